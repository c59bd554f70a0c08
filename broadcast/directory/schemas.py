"""Input and output shapes of the directory; separate from the table models."""

from __future__ import annotations

from typing import Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, field_validator

from broadcast.directory.models import ContactRole
from broadcast.directory.phones import normalise_phone

Locale = Literal["fr", "en"]


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    organisation_id: int
    external_id: str | None = Field(default=None, max_length=64)
    first_name: str = Field(default="", max_length=100)
    last_name: str = Field(default="", max_length=100)
    role: ContactRole
    division: str | None = Field(default=None, max_length=32)
    level: str | None = Field(default=None, max_length=32)
    locale: Locale = "fr"
    email: str | None = Field(default=None, max_length=320)
    mobile: str | None = Field(default=None, max_length=32)

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            return validate_email(value, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise ValueError("adresse e-mail invalide") from exc

    @field_validator("mobile")
    @classmethod
    def _valid_mobile(cls, value: str | None) -> str | None:
        if not value:
            return None
        phone = normalise_phone(value)
        if phone is None:
            raise ValueError("numéro de téléphone invalide")
        if not phone.sms_capable:
            raise ValueError("numéro fixe : il ne peut pas recevoir de SMS")
        return phone.e164


class ContactOut(BaseModel):
    id: int
    organisation_id: int
    external_id: str | None
    first_name: str
    last_name: str
    role: str
    division: str | None
    level: str | None
    locale: str
    email: str | None
    mobile: str | None


class OrganisationOut(BaseModel):
    id: int
    parent_id: int | None
    kind: str
    code: str
    name: str
    school_type: str | None
    children: list[OrganisationOut] = Field(default_factory=list)


class RowError(BaseModel):
    row: int
    field: str
    message: str

"""Input and output shapes of the directory; separate from the table models."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from broadcast.channels.base import ChannelName
from broadcast.core.masking import mask_address
from broadcast.core.sqlutil import row_id
from broadcast.core.validation import Int64, RowId, Text
from broadcast.directory.models import Contact, Organisation, PushSubscription
from broadcast.directory.phones import normalise_phone
from broadcast.directory.roles import RoleIn

if TYPE_CHECKING:
    from broadcast.directory.service import ContactWithAddresses

Locale = Literal["fr", "en"]


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    organisation_id: RowId
    external_id: Text | None = Field(default=None, max_length=64)
    first_name: Text = Field(default="", max_length=100)
    last_name: Text = Field(default="", max_length=100)
    role: RoleIn
    division: Text | None = Field(default=None, max_length=32)
    level: Text | None = Field(default=None, max_length=32)
    locale: Locale = "fr"
    email: Text | None = Field(default=None, max_length=320)
    mobile: Text | None = Field(default=None, max_length=32)

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


class BulkResult(BaseModel):
    created: int
    ids: list[int]


def contact_out(found: ContactWithAddresses) -> ContactOut:
    return ContactOut(
        **found.contact.model_dump(exclude={"created_at", "updated_at", "left_at"}),
        email=found.email,
        mobile=found.mobile,
    )


def organisation_out(organisation: Organisation) -> OrganisationOut:
    return OrganisationOut.model_validate(organisation, from_attributes=True)


def organisation_tree(organisations: list[Organisation]) -> list[OrganisationOut]:
    """Organisations given each after its parent (path order), nested under their parents."""
    nodes: dict[int, OrganisationOut] = {}
    roots: list[OrganisationOut] = []
    for organisation in organisations:
        node = organisation_out(organisation)
        nodes[node.id] = node
        parent_id = organisation.parent_id
        parent = nodes.get(parent_id) if parent_id is not None else None
        (parent.children if parent else roots).append(node)
    return roots


# -- web push --------------------------------------------------------------------------------

MAX_ENDPOINT_LENGTH = 1000
P256DH_BYTES = 65
"""An uncompressed P-256 point: 0x04, then x and y (RFC 8291)."""
AUTH_BYTES = 16
MAX_USER_AGENT = 300


def _b64url_bytes(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


class SubscriptionKeys(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    p256dh: Text = Field(min_length=86, max_length=88)
    auth: Text = Field(min_length=22, max_length=24)

    @field_validator("p256dh")
    @classmethod
    def _point(cls, value: str) -> str:
        raw = _b64url_bytes(value)
        if raw is None or len(raw) != P256DH_BYTES or raw[0] != 4:
            raise ValueError("clé p256dh invalide (point P-256 non compressé en base64url)")
        return value.rstrip("=")

    @field_validator("auth")
    @classmethod
    def _secret(cls, value: str) -> str:
        raw = _b64url_bytes(value)
        if raw is None or len(raw) != AUTH_BYTES:
            raise ValueError("secret auth invalide (16 octets en base64url)")
        return value.rstrip("=")


class SubscriptionIn(BaseModel):
    """What a browser's ``PushSubscription.toJSON()`` gives (``expirationTime`` is ignored)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)

    endpoint: Text = Field(min_length=12, max_length=MAX_ENDPOINT_LENGTH)
    keys: SubscriptionKeys
    expiration_time: Int64 | None = Field(default=None, alias="expirationTime")
    user_agent: Text | None = Field(default=None, max_length=MAX_USER_AGENT)


class FollowIn(SubscriptionIn):
    """An anonymous follower: an organisation by id or by UAI, and the subscription."""

    organisation_id: RowId | None = None
    uai: Text | None = Field(default=None, max_length=8)
    locale: Literal["fr", "en"] = "fr"


class UnsubscribeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    endpoint: Text = Field(min_length=12, max_length=MAX_ENDPOINT_LENGTH)


class SubscriptionOut(BaseModel):
    id: int
    contact_id: int
    organisation_id: int
    created_at: datetime


class PublicKey(BaseModel):
    public_key: str
    """base64url: the ``applicationServerKey`` of ``PushManager.subscribe()``."""


def subscription_out(subscription: PushSubscription, contact: Contact) -> SubscriptionOut:
    return SubscriptionOut(
        id=row_id(subscription),
        contact_id=row_id(contact),
        organisation_id=contact.organisation_id,
        created_at=subscription.created_at,
    )


# -- one person (R3) -------------------------------------------------------------------------


class PersonQuery(BaseModel):
    """Who: a contact id, or an email address or a mobile number (exactly one)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    contact_id: RowId | None = None
    email: Text | None = Field(default=None, max_length=320)
    phone: Text | None = Field(default=None, max_length=32)

    @field_validator("phone")
    @classmethod
    def _e164(cls, value: str | None) -> str | None:
        if value is None:
            return None
        phone = normalise_phone(value)
        if phone is None:
            raise ValueError("numéro de téléphone invalide")
        return phone.e164

    @model_validator(mode="after")
    def _exactly_one(self) -> PersonQuery:
        if sum(v is not None for v in (self.contact_id, self.email, self.phone)) != 1:
            raise ValueError("donnez exactement un critère : contact_id, email ou phone")
        return self

    @property
    def lookup(self) -> str:
        return "contact" if self.contact_id is not None else "email" if self.email else "phone"

    def address(self) -> tuple[str, str] | None:
        if self.email:
            return ChannelName.email.value, self.email
        if self.phone:
            return ChannelName.sms.value, self.phone
        return None

    def masked(self) -> str | None:
        found = self.address()
        return mask_address(*found) if found else None

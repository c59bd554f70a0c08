"""Exercise broadcasts: every channel says "EXERCICE" first, and a seed list of test addresses
may replace the audience.

With a seed list the audience is not used for delivery (it is still checked against the
caller's scope, like any draft's): an exercise is meant to reach the test addresses only,
whoever the audience would have named. Without one, the exercise reaches its audience.
"""

from __future__ import annotations

from typing import Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from broadcast.core.errors import InvalidInput
from broadcast.directory.phones import normalise_phone

MAX_SEED_ADDRESSES = 50


class ExerciseAddress(BaseModel):
    """One test address; email normalised, mobile number stored in E.164."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    channel: Literal["email", "sms"]
    address: str = Field(min_length=1, max_length=320)

    @field_validator("address")
    @classmethod
    def _valid_address(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("channel") == "email":
            return _email(value)
        return _mobile(value)


def _email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError("adresse e-mail invalide") from exc


def _mobile(value: str) -> str:
    phone = normalise_phone(value)
    if phone is None or not phone.sms_capable:
        raise ValueError("numéro de mobile invalide (format E.164 attendu, ex. +33612345678)")
    return phone.e164


def seed_list(addresses: list[ExerciseAddress], channels: list[str]) -> list[dict[str, str]]:
    """The seed list as stored on the broadcast, without duplicates; every address must be on
    one of the broadcast's channels."""
    outside = sorted({a.channel for a in addresses} - set(channels))
    if outside:
        raise InvalidInput(
            "Adresses de test sur un canal non choisi pour cette diffusion : "
            f"{', '.join(outside)}.",
            f"Test addresses on a channel this broadcast does not use: {', '.join(outside)}.",
        )
    unique = dict.fromkeys((a.channel, a.address) for a in addresses)
    return [{"channel": channel, "address": address} for channel, address in unique]

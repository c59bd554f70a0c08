"""Phone numbers normalised to E.164, France as the default region (RULES F3)."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType

_SMS_CAPABLE = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
# National numbers of the overseas départements and collectivités dial with a leading 0 too.
_OVERSEAS_REGIONS = ("GP", "MQ", "GF", "RE", "YT", "PM", "BL", "MF")


@dataclass(frozen=True, slots=True)
class Phone:
    e164: str
    sms_capable: bool


def normalise_phone(raw: str, region: str = "FR") -> Phone | None:
    """``06 12 34 56 78`` -> ``+33612345678``; ``0690 12 34 56`` -> ``+590690123456``;
    None when it is not a valid number."""
    for candidate in (region, *_OVERSEAS_REGIONS):
        number = _parse(raw, candidate)
        if number is not None:
            return _phone(number)
    return None


def _parse(raw: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def _phone(number: phonenumbers.PhoneNumber) -> Phone:
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Phone(e164=e164, sms_capable=phonenumbers.number_type(number) in _SMS_CAPABLE)

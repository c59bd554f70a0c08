"""Phone numbers normalised to E.164, France as the default region (RULES F3).

The overseas départements and collectivités have their own country codes (ARCEP numbering
plan: mobiles 0639 Mayotte +262, 0690 / 0691 Guadeloupe, Saint-Martin, Saint-Barthélemy +590,
0692 / 0693 Réunion +262, 0694 Guyane +594, 0696 / 0697 Martinique +596, and the newer 07
ranges). Their national numbers dial with a leading 0 like metropolitan ones, and people often
write them after +33 or 0033, which reaches nobody: such a number is rewritten to its own
country code (``rewritten_from`` says so, for the import report). Which range belongs to which
territory is read from the ``phonenumbers`` metadata, which follows the ARCEP plan.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType

_SMS_CAPABLE = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
# National numbers of the overseas départements and collectivités dial with a leading 0 too.
_OVERSEAS_REGIONS = ("GP", "MQ", "GF", "RE", "YT", "PM", "BL", "MF")
TERRITORY_NAMES = {
    "GP": "la Guadeloupe",
    "MQ": "la Martinique",
    "GF": "la Guyane",
    "RE": "La Réunion",
    "YT": "Mayotte",
    "PM": "Saint-Pierre-et-Miquelon",
    "BL": "Saint-Barthélemy",
    "MF": "Saint-Martin",
}
FRANCE_CODE = 33


@dataclass(frozen=True, slots=True)
class Phone:
    e164: str
    sms_capable: bool
    rewritten_from: str | None = None
    """The country code the number was written with (``+33``) when it was rewritten to its
    territory's own; None when it was taken as written."""

    def rewrite_note(self) -> str | None:
        """The French sentence telling the rewrite, for the import report."""
        if self.rewritten_from is None:
            return None
        number = phonenumbers.parse(self.e164)
        region = phonenumbers.region_code_for_number(number)
        territory = TERRITORY_NAMES.get(region or "", "l'outre-mer")
        return (
            f"numéro mobile de {territory} écrit avec l'indicatif {self.rewritten_from} : "
            f"enregistré avec l'indicatif +{number.country_code}"
        )


def normalise_phone(raw: str, region: str = "FR") -> Phone | None:
    """``06 12 34 56 78`` -> ``+33612345678``; ``0690 12 34 56`` -> ``+590690123456``;
    ``+33 6 90 12 34 56`` -> ``+590690123456`` (rewritten); None when it is not a valid number."""
    for candidate in (region, *_OVERSEAS_REGIONS):
        number = _parse(raw, candidate)
        if number is not None:
            return _phone(number)
    return _overseas_written_as_french(raw, region)


def _parse(raw: str, region: str) -> phonenumbers.PhoneNumber | None:
    number = _parse_any(raw, region)
    return number if number is not None and phonenumbers.is_valid_number(number) else None


def _parse_any(raw: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None


def _overseas_written_as_french(raw: str, region: str) -> Phone | None:
    """An overseas mobile written after +33 / 0033: the same digits under the territory's code."""
    written = _parse_any(raw, region)
    if written is None or written.country_code != FRANCE_CODE:
        return None
    national = "0" + phonenumbers.national_significant_number(written)
    for territory in _OVERSEAS_REGIONS:
        number = _parse(national, territory)
        if number is not None and phonenumbers.number_type(number) in _SMS_CAPABLE:
            return _phone(number, rewritten_from=f"+{FRANCE_CODE}")
    return None


def _phone(number: phonenumbers.PhoneNumber, rewritten_from: str | None = None) -> Phone:
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    sms_capable = phonenumbers.number_type(number) in _SMS_CAPABLE
    return Phone(e164=e164, sms_capable=sms_capable, rewritten_from=rewritten_from)

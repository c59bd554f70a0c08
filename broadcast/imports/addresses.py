"""An address of a row as a contact point, checked with ``email-validator`` and ``phonenumbers``
(RULES F3), with fast paths for the common case that give the libraries' own answer.

Imports check hundreds of thousands of addresses; most are ASCII e-mails on a few domains and
French mobile numbers. An e-mail whose local part is a plain dot-atom and whose domain the
library has already accepted is accepted without calling it again (the library accepts exactly
those local parts and lowercases the domain); a number that matches the French mobile pattern of
``phonenumbers``' own metadata is that mobile number in E.164. Anything else goes to the
libraries.
"""

from __future__ import annotations

import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from broadcast.directory.phones import Phone, normalise_phone

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_MAX_LOCAL, _MAX_ADDRESS = 64, 254
_KNOWN_DOMAINS_MAX = 10_000

_SEPARATORS = re.compile(r"[\s.\-()]")
_FRENCH = re.compile(r"(?:\+33|0033|0)(\d{9})")
_FR_METADATA = phonenumbers.PhoneMetadata.metadata_for_region("FR")
assert _FR_METADATA is not None and _FR_METADATA.mobile is not None
_FRENCH_MOBILE = re.compile(str(_FR_METADATA.mobile.national_number_pattern))


class EmailChecker:
    """Remembers the domains the library accepted (bounded), to skip it for their addresses."""

    def __init__(self) -> None:
        self._domains: dict[str, str] = {}

    def normalise(self, raw: str) -> str | None:
        """The normalised address, or None when the library refuses it."""
        local, at, domain = raw.strip().rpartition("@")
        known = self._domains.get(domain)
        if known and at and len(raw) <= _MAX_ADDRESS and self._plain(local):
            return f"{local}@{known}"
        try:
            valid = validate_email(raw, check_deliverability=False)
        except EmailNotValidError:
            return None
        if len(self._domains) < _KNOWN_DOMAINS_MAX:
            self._domains[domain] = valid.domain
        return str(valid.normalized)

    @staticmethod
    def _plain(local: str) -> bool:
        return len(local) <= _MAX_LOCAL and _DOT_ATOM.fullmatch(local) is not None


def normalise_mobile(raw: str) -> Phone | None:
    """:func:`broadcast.directory.phones.normalise_phone`, faster for French mobiles."""
    french = _FRENCH.fullmatch(_SEPARATORS.sub("", raw))
    if french is not None and _FRENCH_MOBILE.fullmatch(french.group(1)):
        return Phone(e164="+33" + french.group(1), sms_capable=True)
    return normalise_phone(raw)

"""The importer's fast paths give the libraries' own answers (email-validator, phonenumbers)."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from broadcast.directory.phones import normalise_phone
from broadcast.imports.addresses import EmailChecker, normalise_mobile

PHONES = [
    "06 12 34 56 78",
    "+33 6 12 34 56 78",
    "0033612345678",
    "07.81.23.45.67",
    "0712345678",  # not allocated: invalid
    "0639123456",  # 0639: outside the French mobile ranges
    "0690 12 34 56",  # Guadeloupe mobile
    "0262 12 34 56",  # Réunion landline
    "03 88 12 34 56",  # landline
    "06 12",
    "+44 7700 900123",
]
EMAILS = [
    "Lea.Muller@Exemple.FR",
    "lea.muller@exemple.fr",
    "a+b@exemple.fr",
    "a..b@exemple.fr",
    ".a@exemple.fr",
    "a.@exemple.fr",
    "é@exemple.fr",
    '"a b"@exemple.fr',
    "a@localhost",
    "a@exemple",
    "x" * 65 + "@exemple.fr",
]


def test_phone_fast_path_agrees_with_phonenumbers() -> None:
    assert [normalise_mobile(p) for p in PHONES] == [normalise_phone(p) for p in PHONES]


def _library(address: str) -> str | None:
    try:
        return str(validate_email(address, check_deliverability=False).normalized)
    except EmailNotValidError:
        return None


def test_email_fast_path_agrees_with_email_validator() -> None:
    checker = EmailChecker()
    for _ in range(2):  # the second pass goes through the known domains
        assert [checker.normalise(e) for e in EMAILS] == [_library(e) for e in EMAILS]

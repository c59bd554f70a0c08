"""Plain CSV contacts: one row per contact, French or English headers.

Columns (any order; the header is matched without case, accents or punctuation):
``identifiant``/``id``, ``nom``/``last name`` (required), ``prénom``/``first name``,
``rôle``/``role``, ``UAI``/``RNE``, ``classe``/``division``, ``niveau``/``level``,
``courriel``/``e-mail``/``email``, ``portable``/``mobile``/``téléphone``, ``langue``/``locale``.
At least one address column is required. Without an ``identifiant`` column the stable key is
derived from the role, the names and the addresses, so a changed address makes a new contact
(and, in a full import, the old one left).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from broadcast.directory.models import ContactRole
from broadcast.directory.roles import ROLE_NAMES
from broadcast.imports.records import EMPTY, ContactRecord, ImportKind
from broadcast.imports.textio import CsvRows, Opener, normalise_header

ACCEPTED_HEADERS: dict[str, tuple[str, ...]] = {
    "external_id": ("Identifiant", "Id", "Identifiant externe", "Id externe", "External id"),
    "last_name": ("Nom", "Nom de famille", "Last name", "Lastname", "Surname", "Family name"),
    "first_name": ("Prénom", "First name", "Firstname", "Given name"),
    "role": ("Rôle", "Qualité", "Fonction", "Type"),
    "uai": ("UAI", "RNE", "Code UAI", "UAI établissement", "School UAI"),
    "division": ("Classe", "Division", "Class"),
    "level": ("Niveau", "Level", "Grade"),
    "email": ("Courriel", "Email", "E-mail", "Mail", "Mél", "Adresse mail", "Adresse e-mail"),
    "mobile": (
        "Portable",
        "Mobile",
        "Téléphone portable",
        "Tél. portable",
        "Téléphone",
        "Tél",
        "Phone",
        "Mobile phone",
    ),
    "locale": ("Langue", "Locale", "Language"),
}
"""The headers a plain CSV may use for each field, as docs/guide.md lists them; a file's
header is matched without case, accents or punctuation (``E-MAIL``, ``tel portable``)."""
CSV_HEADERS = {
    normalise_header(alias): field
    for field, aliases in ACCEPTED_HEADERS.items()
    for alias in aliases
}

_LOCALES = {"fr": "fr", "francais": "fr", "french": "fr", "en": "en", "anglais": "en"}
DERIVED_KEY = "h:"
"""Prefix of the keys made for rows without an id of their own (not shown in reports)."""
_ALL_ROLES = frozenset(ContactRole) - {ContactRole.follower}


def parse_role(value: str | None) -> ContactRole | None:
    if not value:
        return ContactRole.guardian
    return ROLE_NAMES.get(normalise_header(value))


def derived_key(*parts: str | None) -> str:
    """A stable key for a row that has no identifier of its own (at most 34 characters)."""
    joined = "\x1f".join(normalise_header(p or "") for p in parts)
    return DERIVED_KEY + hashlib.blake2b(joined.encode(), digest_size=16).hexdigest()


class CsvReader:
    source = ImportKind.csv
    roles = _ALL_ROLES

    def __init__(self, open_file: Opener, name: str = "contacts.csv") -> None:
        self.name = name
        self.rows_read = 0
        self._rows = CsvRows(open_file, lambda header: CSV_HEADERS.get(header))

    def check(self) -> None:
        """Refuse the file whole when its header lacks what every row needs."""
        self._rows.read_header()
        self._rows.require(["last_name"], "le nom", ACCEPTED_HEADERS["last_name"])
        self._rows.require(
            ["email", "mobile"],
            "une adresse (courriel ou portable)",
            (*ACCEPTED_HEADERS["email"], *ACCEPTED_HEADERS["mobile"]),
        )

    def records(self) -> Iterator[ContactRecord]:
        self.check()
        labels = self._rows.column_labels()
        for number, row in self._rows:
            self.rows_read += 1
            yield _record(number, row, labels)


def _record(number: int, row: dict[str, str], labels: dict[str, str]) -> ContactRecord:
    role = parse_role(row.get("role"))
    last_name = row.get("last_name", "")
    record = ContactRecord(
        row=number,
        external_id=row.get("external_id")
        or derived_key(
            str(role), last_name, row.get("first_name"), row.get("email"), row.get("mobile")
        ),
        role=role or ContactRole.guardian,
        last_name=last_name,
        first_name=row.get("first_name", ""),
        uai=row.get("uai", "").upper() or None,
        division=row.get("division"),
        level=row.get("level"),
        email=row.get("email"),
        mobile=row.get("mobile"),
        locale=_LOCALES.get(normalise_header(row.get("locale", "fr")), "fr"),
        columns=labels,
    )
    if role is None:
        record.problem = f"{record.column('role')}rôle inconnu : {row.get('role')}"
    elif not last_name:
        record.problem = f"{record.column('last_name')}{EMPTY}"
    return record

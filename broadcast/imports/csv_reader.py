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
from broadcast.imports.records import ContactRecord, ImportKind, missing
from broadcast.imports.textio import CsvRows, Opener, normalise_header

_ALIASES: dict[str, tuple[str, ...]] = {
    "external_id": ("id", "identifiant", "external id", "id externe", "identifiant externe"),
    "last_name": ("nom", "nom de famille", "last name", "lastname", "surname", "family name"),
    "first_name": ("prenom", "first name", "firstname", "given name"),
    "role": ("role", "qualite", "fonction", "type"),
    "uai": ("uai", "rne", "code uai", "uai etablissement", "school uai"),
    "division": ("classe", "division", "class"),
    "level": ("niveau", "level", "grade"),
    "email": ("courriel", "email", "e mail", "mail", "mel", "adresse mail", "adresse e mail"),
    "mobile": (
        "portable",
        "mobile",
        "telephone portable",
        "tel portable",
        "telephone",
        "tel",
        "phone",
        "mobile phone",
    ),
    "locale": ("langue", "locale", "language"),
}
CSV_HEADERS = {alias: field for field, aliases in _ALIASES.items() for alias in aliases}

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
        self._rows.require("last_name")
        if "email" not in self._rows.fields and "mobile" not in self._rows.fields:
            self._rows.require("email|mobile")

    def records(self) -> Iterator[ContactRecord]:
        self.check()
        for number, row in self._rows:
            self.rows_read += 1
            yield _record(number, row)


def _record(number: int, row: dict[str, str]) -> ContactRecord:
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
    )
    if role is None:
        record.problem = f"rôle inconnu : {row.get('role')}"
    elif not last_name:
        record.problem = missing("nom")
    return record

"""ONDE CSV extracts (primary schools): one row per pupil with up to two legal guardians.

ONDE writes the guardians' columns as ``Nom resp. légal1``, ``Prénom resp. légal1``,
``Tél. portable resp. légal1``, ``Courriel resp. légal1`` (and ``... légal2``); the pupil's as
``Nom élève``, ``Prénom élève``, ``Date naissance``, ``INE``, ``Niveau``, ``Classe``. Headers are
matched without case, accents or punctuation, and ``responsable``/``représentant`` are
accepted for ``resp.``. One guardian contact is made per pupil and guardian (external id
``<pupil>:1`` or ``<pupil>:2``, the pupil being its INE, else a key of its names and birth date),
in the pupil's class and level, so that either class reaches a parent of two pupils.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from broadcast.directory.models import ContactRole
from broadcast.imports.csv_reader import derived_key
from broadcast.imports.records import ContactRecord, ImportKind, missing
from broadcast.imports.textio import CsvRows, Opener

_PUPIL = {
    "nom eleve": "pupil_last",
    "nom": "pupil_last",
    "prenom eleve": "pupil_first",
    "prenom": "pupil_first",
    "date naissance": "birth",
    "date de naissance": "birth",
    "ine": "ine",
    "identifiant national": "ine",
    "niveau": "level",
    "classe": "division",
    "uai": "uai",
    "uai ecole": "uai",
}
_GUARDIAN = re.compile(r"^(.*?)\s*(?:resp|responsable|representant)(?: legal)? ?([12])$")
_GUARDIAN_FIELDS = (
    ("prenom", "first"),
    ("nom", "last"),
    ("portable", "mobile"),
    ("mobile", "mobile"),
    ("courriel", "email"),
    ("mail", "email"),
)


def onde_field(header: str) -> str | None:
    """``tel portable resp legal 1`` -> ``g1_mobile``; ``classe`` -> ``division``."""
    match = _GUARDIAN.match(header)
    if match is None:
        return _PUPIL.get(header)
    what = match.group(1)
    for word, field in _GUARDIAN_FIELDS:
        if word in what.split():
            return f"g{match.group(2)}_{field}"
    return None


def looks_like_onde(headers: tuple[str, ...]) -> bool:
    fields = {onde_field(h) for h in headers}
    return "pupil_last" in fields and any(f and f.startswith("g1_") for f in fields)


class OndeReader:
    source = ImportKind.onde
    roles = frozenset({ContactRole.guardian})

    def __init__(self, open_file: Opener, name: str = "onde.csv") -> None:
        self.name = name
        self.rows_read = 0
        self._rows = CsvRows(open_file, onde_field)

    def check(self) -> None:
        self._rows.read_header()
        self._rows.require("pupil_last", "g1_last")

    def records(self) -> Iterator[ContactRecord]:
        self.check()
        for number, row in self._rows:
            self.rows_read += 1
            yield from _guardians(number, row)


def _guardians(number: int, row: dict[str, str]) -> Iterator[ContactRecord]:
    pupil = row.get("ine") or derived_key(
        row.get("pupil_last"), row.get("pupil_first"), row.get("birth")
    )
    found = False
    for n in ("1", "2"):
        fields = {k[3:]: v for k, v in row.items() if k.startswith(f"g{n}_")}
        if not fields:
            continue
        found = True
        record = ContactRecord(
            row=number,
            external_id=f"{pupil}:{n}",
            role=ContactRole.guardian,
            last_name=fields.get("last", ""),
            first_name=fields.get("first", ""),
            uai=row.get("uai", "").upper() or None,
            division=row.get("division"),
            level=row.get("level"),
            email=fields.get("email"),
            mobile=fields.get("mobile"),
        )
        if not record.last_name:
            record.problem = missing(f"nom du responsable légal {n}")
        yield record
    if not found:
        yield ContactRecord(
            row=number,
            external_id=pupil,
            role=ContactRole.guardian,
            problem="aucun responsable légal",
        )

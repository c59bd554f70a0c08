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
from broadcast.imports.records import EMPTY, ContactRecord, ImportKind, missing
from broadcast.imports.textio import CsvRows, Opener, normalise_header

_GUARDIAN = re.compile(r"^(.*?)\s*(?:resp|responsable|representant)(?: legal)? ?([12])$")
_GUARDIAN_FIELDS = (
    ("prenom", "first"),
    ("nom", "last"),
    ("portable", "mobile"),
    ("mobile", "mobile"),
    ("courriel", "email"),
    ("mail", "email"),
)


ACCEPTED_HEADERS: dict[str, tuple[str, ...]] = {
    "pupil_last": ("Nom élève", "Nom"),
    "pupil_first": ("Prénom élève", "Prénom"),
    "birth": ("Date naissance", "Date de naissance"),
    "ine": ("INE", "Identifiant national"),
    "level": ("Niveau",),
    "division": ("Classe",),
    "uai": ("UAI", "UAI école"),
    "g1_last": ("Nom resp. légal1", "Nom responsable légal 1", "Nom représentant légal 1"),
    "g1_first": ("Prénom resp. légal1", "Prénom responsable légal 1"),
    "g1_mobile": ("Tél. portable resp. légal1", "Portable responsable légal 1"),
    "g1_email": ("Courriel resp. légal1", "Mail responsable légal 1"),
}
"""Headers of an ONDE extract, as docs/guide.md lists them (guardian 2: ``légal2``); the
guardians' are recognised by their pattern, ``resp.``, ``responsable`` or ``représentant``."""
_PUPIL = {
    normalise_header(header): field
    for field, headers in ACCEPTED_HEADERS.items()
    if not field.startswith("g")
    for header in headers
}


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
        self._rows.require(["pupil_last"], "le nom de l'élève", ACCEPTED_HEADERS["pupil_last"])
        self._rows.require(
            ["g1_last"], "le nom du responsable légal 1", ACCEPTED_HEADERS["g1_last"]
        )

    def records(self) -> Iterator[ContactRecord]:
        self.check()
        labels = self._rows.column_labels()
        per_guardian = {n: _guardian_labels(labels, n) for n in ("1", "2")}
        for number, row in self._rows:
            self.rows_read += 1
            yield from _guardians(number, row, per_guardian)


def _guardian_labels(labels: dict[str, str], n: str) -> dict[str, str]:
    """The file's columns of guardian ``n`` under the record's field names, with the pupil's."""
    own = {k[3:]: v for k, v in labels.items() if k.startswith(f"g{n}_")}
    return {
        "uai": labels.get("uai", ""),
        "email": own.get("email", ""),
        "mobile": own.get("mobile", ""),
        "last_name": own.get("last", ""),
    }


def _guardians(
    number: int, row: dict[str, str], labels: dict[str, dict[str, str]]
) -> Iterator[ContactRecord]:
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
            columns=labels[n],
        )
        if not record.last_name:
            column = record.column("last_name")
            record.problem = column + EMPTY if column else missing(f"nom du responsable légal {n}")
        yield record
    if not found:
        yield ContactRecord(
            row=number,
            external_id=pupil,
            role=ContactRole.guardian,
            problem="aucun responsable légal",
        )

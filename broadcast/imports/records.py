"""What every reader yields: one contact as a source describes it, not yet validated."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from broadcast.directory.models import ContactRole


class ImportKind(enum.StrEnum):
    csv = "csv"
    siecle = "siecle"
    onde = "onde"
    stsweb = "stsweb"


@dataclass(slots=True)
class ContactRecord:
    """``external_id`` is the source's stable id: a re-import updates the contact it made.
    ``pupil_ref`` (SIECLE guardians) names the pupil whose class and level the guardian takes.
    ``problem`` is a reason found by the reader itself (a missing field): the row is rejected.
    ``skipped`` is why the reader passes over an element that is not a contact to import (a
    SIECLE link to a mere contact person): counted apart, with its reason.
    ``left_at``: the contact has already left (a SIECLE pupil's past ``DATE_SORTIE``); it is
    imported as left, never as current. ``notes`` are remarks on a row imported anyway.
    ``columns`` names the file's own column (or element) of each field, for the messages:
    ``colonne « Courriel »``, ``élément MEL``."""

    row: int
    external_id: str
    role: str
    last_name: str = ""
    first_name: str = ""
    uai: str | None = None
    division: str | None = None
    level: str | None = None
    email: str | None = None
    mobile: str | None = None
    locale: str = "fr"
    pupil_ref: str | None = None
    problem: str | None = None
    skipped: str | None = None
    left_at: datetime | None = None
    notes: list[str] = field(default_factory=list)
    columns: Mapping[str, str] = field(default_factory=dict)

    def column(self, name: str) -> str:
        """``colonne « Courriel » : `` to start a message about a field, or nothing."""
        label = self.columns.get(name)
        return f"{label} : " if label else ""


class Reader(Protocol):
    """One file of one source. ``roles`` are the roles the file is complete for: a ``full``
    import marks the contacts of these roles missing from it as left."""

    source: ImportKind
    roles: frozenset[ContactRole]
    name: str
    rows_read: int

    def records(self) -> Iterator[ContactRecord]: ...


def missing(field: str) -> str:
    return f"champ obligatoire manquant : {field}"


EMPTY = "champ obligatoire vide"
"""After the column's name: a required cell left empty."""


XML_COLUMNS: Mapping[str, str] = {
    "uai": "élément UAJ",
    "email": "élément MEL",
    "mobile": "élément TEL_PORTABLE",
}
"""The elements of SIECLE and STS-Web exports that hold these fields."""

STAFF_ROLES = frozenset({ContactRole.teacher, ContactRole.staff, ContactRole.head})

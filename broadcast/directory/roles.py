"""The names a person gives a contact's role, in French or English, and the role they mean:
"parent" or "responsable légal" is a guardian, as in a CSV import and in the API alike."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any

from pydantic import BeforeValidator

from broadcast.directory.models import ContactRole

ROLE_NAMES: dict[str, ContactRole] = {
    **dict.fromkeys(
        ("parent", "responsable", "responsable legal", "famille", "guardian", "tuteur"),
        ContactRole.guardian,
    ),
    **dict.fromkeys(("eleve", "pupil", "student"), ContactRole.pupil),
    **dict.fromkeys(("enseignant", "professeur", "teacher"), ContactRole.teacher),
    **dict.fromkeys(("personnel", "agent", "staff"), ContactRole.staff),
    **dict.fromkeys(
        ("direction", "directeur", "directrice", "chef d etablissement", "principal", "head"),
        ContactRole.head,
    ),
}
"""Keyed by the name without case, accents nor punctuation (``Responsable légal`` ->
``responsable legal``)."""


def name_key(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return " ".join(re.split(r"[^a-z0-9]+", ascii_name.lower())).strip()


def role_of(value: Any) -> Any:
    """A role's code, or any name of :data:`ROLE_NAMES`; other values are left for the enum to
    refuse (naming the accepted codes)."""
    if isinstance(value, str) and value not in ContactRole.__members__:
        return ROLE_NAMES.get(name_key(value), value)
    return value


RoleIn = Annotated[ContactRole, BeforeValidator(role_of)]

"""STS-Web staff exports (``sts_emp_<UAI>_<year>.xml``), read as a stream::

    STS_EDT/PARAMETRES/UAJ[@CODE]                      the school's UAI
    STS_EDT/DONNEES/INDIVIDUS/INDIVIDU[@ID][@TYPE]     NOM_USAGE (else NOM_PATRONYMIQUE), PRENOM,
                                                       FONCTION (ENS, DIR, EDU, DOC, ...)

``FONCTION`` DIR makes a ``head``, ENS and DOC a ``teacher``, anything else ``staff``. The
national layout carries no address; ``MEL`` and ``TEL_PORTABLE`` children are read when an
académie's tooling adds them, and a staff member without any is imported without address (an
address may come later from another source). External id: the INDIVIDU's ``ID``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

from broadcast.directory.models import ContactRole
from broadcast.imports.errors import ImportRefused
from broadcast.imports.records import (
    STAFF_ROLES,
    XML_COLUMNS,
    ContactRecord,
    ImportKind,
    missing,
)
from broadcast.imports.textio import Opener
from broadcast.imports.xmlstream import stream_elements, text_of, uai_of

STS_ROOT = "STS_EDT"
_ROLES = {"DIR": ContactRole.head, "ENS": ContactRole.teacher, "DOC": ContactRole.teacher}


class StsWebReader:
    source = ImportKind.stsweb
    roles = STAFF_ROLES

    def __init__(self, open_file: Opener, name: str = "sts_emp.xml") -> None:
        self.name = name
        self.rows_read = 0
        self._open = open_file

    def records(self) -> Iterator[ContactRecord]:
        uai: str | None = None
        with self._open() as file:
            elements = stream_elements(file, frozenset({"UAJ", "INDIVIDU"}))
            root = next(elements, None)
            if root is None or root.tag != STS_ROOT:
                raise ImportRefused(
                    f"export STS-Web attendu ({STS_ROOT}).",
                    f"STS-Web export expected ({STS_ROOT}).",
                )
            for element in elements:
                if element.tag == "UAJ":
                    uai = uai or uai_of(element)
                    continue
                self.rows_read += 1
                yield _staff(self.rows_read, element, uai)


def _staff(row: int, element: ET.Element, uai: str | None) -> ContactRecord:
    record = ContactRecord(
        row=row,
        external_id=text_of(element, "ID"),
        role=_ROLES.get(text_of(element, "FONCTION"), ContactRole.staff),
        last_name=text_of(element, "NOM_USAGE") or text_of(element, "NOM_PATRONYMIQUE"),
        first_name=text_of(element, "PRENOM"),
        uai=uai,
        email=text_of(element, "MEL") or None,
        mobile=text_of(element, "TEL_PORTABLE") or None,
        columns=XML_COLUMNS,
    )
    if not record.external_id:
        record.problem = missing("ID")
    elif not record.last_name:
        record.problem = missing("NOM_USAGE")
    return record

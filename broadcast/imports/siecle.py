"""SIECLE (BEE) XML exports of secondary schools (RULES F2), read as a stream.

``ElevesSansAdresses.xml`` (or ``ElevesAvecAdresses.xml``)::

    BEE_ELEVES/PARAMETRES/UAJ                          the school's UAI
    BEE_ELEVES/DONNEES/ELEVES/ELEVE[@ELEVE_ID]         NOM_DE_FAMILLE, PRENOM, CODE_MEF,
                                                       MEL, TEL_PORTABLE
    BEE_ELEVES/DONNEES/STRUCTURES/STRUCTURES_ELEVE[@ELEVE_ID]/STRUCTURE
                                                       CODE_STRUCTURE, TYPE_STRUCTURE (D: class)

``ResponsablesAvecAdresses.xml`` (or ``...SansAdresses``)::

    BEE_RESPONSABLES/PARAMETRES/UAJ
    BEE_RESPONSABLES/DONNEES/PERSONNES/PERSONNE[@PERSONNE_ID]
                                                       NOM_DE_FAMILLE, PRENOM, TEL_PORTABLE, MEL
    BEE_RESPONSABLES/DONNEES/RESPONSABLES/RESPONSABLE_ELEVE
                                                       ELEVE_ID, PERSONNE_ID, RESP_LEGAL (1, 2)

Ids are read from the attribute or from a child element of the same name. Pupils become
``pupil`` contacts (external id ``ELEVE_ID``) with their class (the ``D`` structure) and level
(from ``CODE_MEF``). Each legal guardian (RESP_LEGAL 1 or 2; 0, a mere contact person, is not
imported) becomes one ``guardian`` contact per pupil, external id ``PERSONNE_ID:ELEVE_ID``, in
that pupil's class and level: a parent of two pupils in two classes is reachable through either
class, and the delivery ledger writes once to an address per broadcast. The class comes from
the pupils' contacts (imported earlier, or from the same zip, where pupils go first).

A SIECLE export is one school's: the records of its first section (pupils, persons) are kept
until the second section (structures, links) arrives; memory grows with the school, not with
the file's bytes. A guardian's row number is the rank of its RESPONSABLE_ELEVE element; a pupil's
the rank of its ELEVE element; rejections also name the external id.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import NamedTuple

from broadcast.directory.models import ContactRole
from broadcast.imports.errors import ImportRefused
from broadcast.imports.records import ContactRecord, ImportKind, missing
from broadcast.imports.textio import Opener
from broadcast.imports.xmlstream import stream_elements, text_of, uai_of

PUPILS_ROOT = "BEE_ELEVES"
GUARDIANS_ROOT = "BEE_RESPONSABLES"
LEGAL_GUARDIAN = frozenset({"1", "2"})

# The first three digits of a MEF code (its "dispositif de formation") name the year of study.
MEF_LEVELS = {
    "100": "6e",
    "101": "5e",
    "102": "4e",
    "103": "3e",
    "200": "2de",
    "201": "1re",
    "202": "Tle",
    "240": "2de pro",
    "241": "1re pro",
    "242": "Tle pro",
}


def level_of_mef(code_mef: str) -> str | None:
    return MEF_LEVELS.get(code_mef[:3]) if code_mef else None


def _root(stream: Iterator[ET.Element], expected: str) -> None:
    root = next(stream, None)
    if root is None or root.tag != expected:
        found = root.tag if root is not None else "rien"
        raise ImportRefused(
            f"export SIECLE attendu ({expected}), trouvé {found}.",
            f"SIECLE export expected ({expected}), found {found}.",
        )


class SieclePupilsReader:
    source = ImportKind.siecle
    roles = frozenset({ContactRole.pupil})

    def __init__(self, open_file: Opener, name: str = "ElevesSansAdresses.xml") -> None:
        self.name = name
        self.rows_read = 0
        self._open = open_file

    def records(self) -> Iterator[ContactRecord]:
        uai: str | None = None
        waiting: dict[str, ContactRecord] = {}
        classes: dict[str, str] = {}
        tags = frozenset({"UAJ", "ELEVE", "STRUCTURES_ELEVE"})
        with self._open() as file:
            elements = stream_elements(file, tags)
            _root(elements, PUPILS_ROOT)
            for element in elements:
                if element.tag == "UAJ":
                    uai = uai_of(element)
                elif element.tag == "ELEVE":
                    self.rows_read += 1
                    pupil = _pupil(self.rows_read, element, uai)
                    if pupil.external_id in classes:
                        pupil.division = classes.pop(pupil.external_id)
                        yield pupil
                    else:
                        waiting[pupil.external_id] = pupil
                else:
                    pupil_id, division = _structure(element)
                    found = waiting.pop(pupil_id, None)
                    if found is None:
                        classes[pupil_id] = division
                        continue
                    found.division = division or None
                    yield found
        yield from waiting.values()


def _pupil(row: int, element: ET.Element, uai: str | None) -> ContactRecord:
    record = ContactRecord(
        row=row,
        external_id=text_of(element, "ELEVE_ID"),
        role=ContactRole.pupil,
        last_name=text_of(element, "NOM_DE_FAMILLE") or text_of(element, "NOM"),
        first_name=text_of(element, "PRENOM"),
        uai=uai,
        level=level_of_mef(text_of(element, "CODE_MEF")),
        email=text_of(element, "MEL") or None,
        mobile=text_of(element, "TEL_PORTABLE") or None,
    )
    record.problem = _missing(record, "ELEVE_ID")
    return record


def _structure(element: ET.Element) -> tuple[str, str]:
    """The pupil's class: its structure of type D (division), not its groups (G)."""
    for structure in element.iter("STRUCTURE"):
        if text_of(structure, "TYPE_STRUCTURE") in ("D", ""):
            return text_of(element, "ELEVE_ID"), text_of(structure, "CODE_STRUCTURE")
    return text_of(element, "ELEVE_ID"), ""


def _missing(record: ContactRecord, id_name: str) -> str | None:
    if not record.external_id:
        return missing(id_name)
    return None if record.last_name else missing("NOM_DE_FAMILLE")


class Person(NamedTuple):
    last_name: str
    first_name: str
    mobile: str
    email: str


class SiecleGuardiansReader:
    source = ImportKind.siecle
    roles = frozenset({ContactRole.guardian})

    def __init__(self, open_file: Opener, name: str = "ResponsablesAvecAdresses.xml") -> None:
        self.name = name
        self.rows_read = 0
        self._open = open_file

    def records(self) -> Iterator[ContactRecord]:
        uai: str | None = None
        persons: dict[str, str] = {}
        early_links: list[tuple[int, str, str]] = []
        tags = frozenset({"UAJ", "PERSONNE", "RESPONSABLE_ELEVE"})
        with self._open() as file:
            elements = stream_elements(file, tags)
            _root(elements, GUARDIANS_ROOT)
            for element in elements:
                if element.tag == "UAJ":
                    uai = uai_of(element)
                elif element.tag == "PERSONNE":
                    persons[text_of(element, "PERSONNE_ID")] = _person(element)
                elif text_of(element, "RESP_LEGAL") in LEGAL_GUARDIAN:
                    self.rows_read += 1
                    link = (self.rows_read, text_of(element, "PERSONNE_ID"), _eleve(element))
                    if link[1] in persons:
                        yield _guardian(*link, persons[link[1]], uai)
                    else:
                        early_links.append(link)
        for row, person_id, pupil_id in early_links:
            yield _guardian(row, person_id, pupil_id, persons.get(person_id), uai)


def _eleve(element: ET.Element) -> str:
    return text_of(element, "ELEVE_ID")


_SEPARATOR = "\x1f"  # cannot occur in XML text


def _person(element: ET.Element) -> str:
    """A person kept until its links are read, as one string: a school's persons stay small."""
    return _SEPARATOR.join(
        (
            text_of(element, "NOM_DE_FAMILLE") or text_of(element, "NOM"),
            text_of(element, "PRENOM"),
            text_of(element, "TEL_PORTABLE"),
            text_of(element, "MEL"),
        )
    )


def _guardian(
    row: int, person_id: str, pupil_id: str, packed: str | None, uai: str | None
) -> ContactRecord:
    person = Person(*(packed or _SEPARATOR * 3).split(_SEPARATOR))
    record = ContactRecord(
        row=row,
        external_id=f"{person_id}:{pupil_id}",
        role=ContactRole.guardian,
        last_name=person.last_name,
        first_name=person.first_name,
        uai=uai,
        email=person.email or None,
        mobile=person.mobile or None,
        pupil_ref=pupil_id,
    )
    if not person_id or not pupil_id:
        record.problem = missing("PERSONNE_ID" if not person_id else "ELEVE_ID")
    elif not person.last_name:
        record.problem = missing("NOM_DE_FAMILLE")
    return record

"""SIECLE (BEE) XML exports of secondary schools (RULES F2), read as a stream.

``ElevesSansAdresses.xml`` (or ``ElevesAvecAdresses.xml``)::

    BEE_ELEVES/PARAMETRES/UAJ                          the school's UAI
    BEE_ELEVES/DONNEES/ELEVES/ELEVE[@ELEVE_ID]         NOM_DE_FAMILLE, PRENOM, CODE_MEF,
                                                       MEL, TEL_PORTABLE, DATE_SORTIE
    BEE_ELEVES/DONNEES/STRUCTURES/STRUCTURES_ELEVE[@ELEVE_ID]/STRUCTURE
                                                       CODE_STRUCTURE, TYPE_STRUCTURE (D: class)

``ResponsablesAvecAdresses.xml`` (or ``...SansAdresses``)::

    BEE_RESPONSABLES/PARAMETRES/UAJ
    BEE_RESPONSABLES/DONNEES/PERSONNES/PERSONNE[@PERSONNE_ID]
                                                       NOM_DE_FAMILLE, PRENOM, TEL_PORTABLE, MEL,
                                                       ACCEPTE_SMS
    BEE_RESPONSABLES/DONNEES/RESPONSABLES/RESPONSABLE_ELEVE
                                                       ELEVE_ID, PERSONNE_ID, RESP_LEGAL (1, 2)

Ids are read from the attribute or from a child element of the same name. Pupils become
``pupil`` contacts (external id ``ELEVE_ID``) with their class (the ``D`` structure) and level
(from ``CODE_MEF``). A pupil whose ``DATE_SORTIE`` (``dd/mm/yyyy``) is today or past has left: he
is imported as left on that date (RULES R2 then purges him), and so are the guardian contacts
made for him. Each legal guardian (RESP_LEGAL 1 or 2; 0, a mere contact person, is not imported:
the link is counted as skipped, with its reason) becomes one ``guardian`` contact per pupil,
external id ``PERSONNE_ID:ELEVE_ID``, in that pupil's class and level: a parent of two pupils in
two classes is reachable through either class, and the delivery ledger writes once to an address
per broadcast. The class comes from the pupils' contacts (imported earlier, or from the same
zip, where pupils go first).

A SIECLE export is one school's: the records of its first section (pupils, persons) are kept
until the second section (structures, links) arrives; memory grows with the school, not with
the file's bytes. A guardian's row number is the rank of its RESPONSABLE_ELEVE element among all
of them (non-legal links included); a pupil's the rank of its ELEVE element; rejections also name
the external id.

A person with ``ACCEPTE_SMS`` 0 (on the PERSONNE, or on the link) refused SMS: his mobile number
is not made an SMS contact point (nothing is sent to it; a STOP from it is matched on the number
alone, so it need not be kept), and the report says so.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sized
from datetime import UTC, date, datetime
from typing import NamedTuple

from broadcast.directory.models import ContactRole
from broadcast.imports.errors import ImportRefused
from broadcast.imports.records import XML_COLUMNS, ContactRecord, ImportKind, missing
from broadcast.imports.textio import Opener
from broadcast.imports.xmlstream import stream_elements, text_of, uai_of

PUPILS_ROOT = "BEE_ELEVES"
GUARDIANS_ROOT = "BEE_RESPONSABLES"
LEGAL_GUARDIAN = frozenset({"1", "2"})
NOT_LEGAL = "contact non responsable légal (RESP_LEGAL {value}) : lien non importé"
REFUSES_SMS = "refus des SMS (ACCEPTE_SMS = 0) : le numéro de portable n'est pas utilisé"

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


MAX_KEPT = 100_000
"""Records kept until their second section arrives: a large lycée has a few thousand pupils
and twice as many persons; beyond this, the file is not one school's export."""


def _check_kept(*kept: Sized) -> None:
    if sum(len(k) for k in kept) > MAX_KEPT:
        count = f"{MAX_KEPT:,}".replace(",", " ")
        raise ImportRefused(
            f"plus de {count} élèves ou personnes : ce n'est pas l'export d'un établissement.",
            f"over {count} pupils or persons: not one school's export.",
        )


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

    def __init__(
        self, open_file: Opener, name: str = "ElevesSansAdresses.xml", today: date | None = None
    ) -> None:
        self.name = name
        self.rows_read = 0
        self._open = open_file
        self._today = today or datetime.now(UTC).date()

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
                    pupil = _pupil(self.rows_read, element, uai, self._today)
                    if pupil.external_id in classes:
                        pupil.division = classes.pop(pupil.external_id)
                        yield pupil
                    else:
                        waiting[pupil.external_id] = pupil
                        _check_kept(waiting, classes)
                else:
                    pupil_id, division = _structure(element)
                    found = waiting.pop(pupil_id, None)
                    if found is None:
                        classes[pupil_id] = division
                        _check_kept(waiting, classes)
                        continue
                    found.division = division or None
                    yield found
        yield from waiting.values()


def _pupil(row: int, element: ET.Element, uai: str | None, today: date) -> ContactRecord:
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
        columns=XML_COLUMNS,
    )
    record.problem = _missing(record, "ELEVE_ID")
    _departure(record, text_of(element, "DATE_SORTIE"), today)
    return record


def _departure(record: ContactRecord, written: str, today: date) -> None:
    """A ``DATE_SORTIE`` of today or before: the pupil left on that date."""
    if not written:
        return
    left_on = parse_siecle_date(written)
    if left_on is None:
        record.problem = record.problem or f"date de sortie illisible (DATE_SORTIE) : {written}"
    elif left_on <= today:
        record.left_at = datetime(left_on.year, left_on.month, left_on.day, tzinfo=UTC)


def parse_siecle_date(written: str) -> date | None:
    """``15/06/2026`` (SIECLE's form) or ``2026-06-15``; None when neither."""
    for form in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(written, form).replace(tzinfo=UTC).date()
        except ValueError:
            continue
    return None


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
    accepts_sms: str


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
        early_links: list[Link] = []
        tags = frozenset({"UAJ", "PERSONNE", "RESPONSABLE_ELEVE"})
        with self._open() as file:
            elements = stream_elements(file, tags)
            _root(elements, GUARDIANS_ROOT)
            for element in elements:
                if element.tag == "UAJ":
                    uai = uai_of(element)
                elif element.tag == "PERSONNE":
                    persons[text_of(element, "PERSONNE_ID")] = _person(element)
                    _check_kept(persons, early_links)
                else:
                    self.rows_read += 1
                    link = _link(self.rows_read, element)
                    if link.legal not in LEGAL_GUARDIAN:
                        yield _skipped(link)
                    elif link.person_id in persons:
                        yield _guardian(link, persons[link.person_id], uai)
                    else:
                        early_links.append(link)
                        _check_kept(persons, early_links)
        for link in early_links:
            yield _guardian(link, persons.get(link.person_id), uai)


class Link(NamedTuple):
    """A RESPONSABLE_ELEVE element: its rank, its person and pupil, its legal status."""

    row: int
    person_id: str
    pupil_id: str
    legal: str
    accepts_sms: str


def _link(row: int, element: ET.Element) -> Link:
    return Link(
        row,
        text_of(element, "PERSONNE_ID"),
        text_of(element, "ELEVE_ID"),
        text_of(element, "RESP_LEGAL"),
        text_of(element, "ACCEPTE_SMS"),
    )


def _skipped(link: Link) -> ContactRecord:
    return ContactRecord(
        row=link.row,
        external_id=f"{link.person_id}:{link.pupil_id}",
        role=ContactRole.guardian,
        skipped=NOT_LEGAL.format(value=link.legal or "absent"),
    )


_SEPARATOR = "\x1f"  # cannot occur in XML text


def _person(element: ET.Element) -> str:
    """A person kept until its links are read, as one string: a school's persons stay small."""
    return _SEPARATOR.join(
        (
            text_of(element, "NOM_DE_FAMILLE") or text_of(element, "NOM"),
            text_of(element, "PRENOM"),
            text_of(element, "TEL_PORTABLE"),
            text_of(element, "MEL"),
            text_of(element, "ACCEPTE_SMS"),
        )
    )


def _guardian(link: Link, packed: str | None, uai: str | None) -> ContactRecord:
    row, person_id, pupil_id = link.row, link.person_id, link.pupil_id
    person = Person(*(packed or _SEPARATOR * 4).split(_SEPARATOR))
    refuses_sms = "0" in (link.accepts_sms, person.accepts_sms)
    record = ContactRecord(
        row=row,
        external_id=f"{person_id}:{pupil_id}",
        role=ContactRole.guardian,
        last_name=person.last_name,
        first_name=person.first_name,
        uai=uai,
        email=person.email or None,
        mobile=None if refuses_sms else person.mobile or None,
        pupil_ref=pupil_id,
        columns=XML_COLUMNS,
    )
    if refuses_sms and person.mobile:
        record.notes.append(REFUSES_SMS)
    if not person_id or not pupil_id:
        record.problem = missing("PERSONNE_ID" if not person_id else "ELEVE_ID")
    elif not person.last_name:
        record.problem = missing("NOM_DE_FAMILLE")
    return record

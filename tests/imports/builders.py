"""Synthetic exports with the real element and column names, and a helper to import them."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from sqlalchemy import select
from sqlmodel import col

from broadcast.core.db import SessionFactory, transaction
from broadcast.directory.models import Contact, ContactPoint, Organisation
from broadcast.imports.models import ImportRun
from broadcast.imports.records import ImportKind
from broadcast.imports.service import create_run, run_import


def write_csv(
    path: Path,
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


@dataclass
class Pupil:
    eleve_id: str
    last_name: str
    first_name: str
    division: str
    code_mef: str = "10010012110"  # 6e
    left_on: str = ""
    """DATE_SORTIE as SIECLE writes it (dd/mm/yyyy), empty for a pupil still there."""


@dataclass
class Person:
    personne_id: str
    last_name: str
    first_name: str
    mobile: str = ""
    email: str = ""
    pupils: list[tuple[str, str]] = field(default_factory=list)
    """(ELEVE_ID, RESP_LEGAL)"""
    accepts_sms: str = "1"


def _tag(name: str, value: str) -> str:
    return f"<{name}>{escape(value)}</{name}>"


def siecle_pupils_xml(uai: str, pupils: Sequence[Pupil]) -> bytes:
    """ElevesSansAdresses.xml: ELEVES first, then their STRUCTURES (as SIECLE writes them)."""
    eleves = "".join(
        f'<ELEVE ELEVE_ID="{p.eleve_id}" ELENOET="{p.eleve_id}">'
        f"{_tag('ID_NATIONAL', '0' + p.eleve_id)}{_tag('NOM_DE_FAMILLE', p.last_name)}"
        f"{_tag('PRENOM', p.first_name)}{_tag('DATE_NAISS', '01/02/2013')}"
        f"{_tag('CODE_MEF', p.code_mef)}"
        f"{_tag('DATE_SORTIE', p.left_on) if p.left_on else ''}</ELEVE>"
        for p in pupils
    )
    structures = "".join(
        f'<STRUCTURES_ELEVE ELEVE_ID="{p.eleve_id}"><STRUCTURE>'
        f"{_tag('CODE_STRUCTURE', p.division)}{_tag('TYPE_STRUCTURE', 'D')}</STRUCTURE>"
        f"<STRUCTURE>{_tag('CODE_STRUCTURE', 'LATIN')}{_tag('TYPE_STRUCTURE', 'G')}</STRUCTURE>"
        "</STRUCTURES_ELEVE>"
        for p in pupils
    )
    return (
        '<?xml version="1.0" encoding="ISO-8859-15"?>\n<BEE_ELEVES VERSION="3.1">'
        f"<PARAMETRES>{_tag('UAJ', uai)}{_tag('ANNEE_SCOLAIRE', '2025')}</PARAMETRES>"
        f"<DONNEES><ELEVES>{eleves}</ELEVES><OPTIONS/><STRUCTURES>{structures}</STRUCTURES>"
        "</DONNEES></BEE_ELEVES>\n"
    ).encode("iso-8859-15")


def siecle_guardians_xml(uai: str, persons: Sequence[Person]) -> bytes:
    """ResponsablesAvecAdresses.xml: PERSONNES, then RESPONSABLES, then ADRESSES."""
    personnes = "".join(
        f'<PERSONNE PERSONNE_ID="{p.personne_id}">{_tag("LC_CIVILITE", "MME")}'
        f"{_tag('NOM_DE_FAMILLE', p.last_name)}{_tag('PRENOM', p.first_name)}"
        f"{_tag('TEL_PERSONNEL', '03 88 00 00 00')}{_tag('TEL_PORTABLE', p.mobile)}"
        f"{_tag('MEL', p.email)}{_tag('ACCEPTE_SMS', p.accepts_sms)}"
        f"{_tag('ADRESSE_ID', p.personne_id)}</PERSONNE>"
        for p in persons
    )
    links = "".join(
        f"<RESPONSABLE_ELEVE>{_tag('ELEVE_ID', eleve)}{_tag('PERSONNE_ID', p.personne_id)}"
        f"{_tag('RESP_LEGAL', legal)}{_tag('CODE_PARENTE', '20')}"
        f"{_tag('PERS_CONTACT', '1')}</RESPONSABLE_ELEVE>"
        for p in persons
        for eleve, legal in p.pupils
    )
    return (
        '<?xml version="1.0" encoding="ISO-8859-15"?>\n<BEE_RESPONSABLES VERSION="3.1">'
        f"<PARAMETRES>{_tag('UAJ', uai)}</PARAMETRES><DONNEES>"
        f"<PERSONNES>{personnes}</PERSONNES><RESPONSABLES>{links}</RESPONSABLES>"
        "<ADRESSES/></DONNEES></BEE_RESPONSABLES>\n"
    ).encode("iso-8859-15")


async def import_file(
    factory: SessionFactory,
    organisation_id: int,
    path: Path,
    *,
    kind: ImportKind | None = None,
    dry_run: bool = False,
    full: bool = False,
) -> ImportRun:
    async with transaction(factory) as session:
        organisation = await session.get(Organisation, organisation_id)
        assert organisation is not None
        run = await create_run(
            session, None, organisation, filename=path.name, kind=kind, dry_run=dry_run, full=full
        )
    assert run.id is not None
    finished = await run_import(factory, run.id, path)
    assert finished is not None
    return finished


async def contacts_by_external_id(factory: SessionFactory) -> dict[str, dict[str, object]]:
    """Every contact with its addresses, keyed by its external id."""
    async with transaction(factory) as session:
        contacts = (await session.execute(select(Contact).order_by(col(Contact.id)))).scalars()
        points = (
            await session.execute(
                select(ContactPoint.contact_id, ContactPoint.channel, ContactPoint.address)
            )
        ).all()
        by_id = {c.id: c.model_dump() for c in contacts}
    for contact in by_id.values():
        contact["points"] = set()
    for contact_id, channel, address in points:
        by_id[contact_id]["points"].add((channel, address))  # type: ignore[attr-defined]
    return {str(c["external_id"]): c for c in by_id.values()}

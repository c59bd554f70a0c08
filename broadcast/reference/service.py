"""The reference hierarchy in the database, and the schools of the national directory.

``ensure_reference`` creates the régions académiques, académies and départements that are
missing (matched by code; existing rows, such as the demo's, are kept as they are), so it can be
run any number of times. ``import_schools`` reads the national directory's CSV layout (the
"Annuaire de l'éducation" export: ``Identifiant_de_l_etablissement``, ``Nom_etablissement``,
``Type_etablissement``, ``Nom_commune``, ``Code_departement``, ``Code_academie``...; shorter
French or English headers are accepted too) and creates or updates each school in place under
its département (from the column, else from the UAI). The name kept is ``Nom (Commune)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.directory.models import Organisation, OrganisationKind
from broadcast.directory.service import create_organisation
from broadcast.directory.uai import is_valid_uai
from broadcast.imports.report import ImportReport
from broadcast.imports.textio import CsvRows, normalise_header
from broadcast.reference.data import (
    ACADEMIES,
    DEPARTEMENTS,
    REGIONS,
    departement_code,
    departement_of_uai,
)

SCHOOL_HEADERS: dict[str, tuple[str, ...]] = {
    "uai": (
        "Identifiant de l'établissement",
        "UAI",
        "Code UAI",
        "Numéro UAI",
        "Code établissement",
    ),
    "name": (
        "Nom établissement",
        "Appellation officielle",
        "Nom",
        "Name",
        "Dénomination principale",
    ),
    "type": ("Type établissement", "Type", "Nature"),
    "commune": ("Nom commune", "Commune", "Libellé commune", "Town"),
    "departement": ("Code département", "Département", "Code du département"),
    "academie": ("Code académie", "Libellé académie", "Académie"),
}
"""The headers of the national directory's CSV, as docs/guide.md lists them."""
_SCHOOL_FIELDS = {
    normalise_header(header): field
    for field, headers in SCHOOL_HEADERS.items()
    for header in headers
}
_TYPES = {"ecole": "ecole", "college": "college", "lycee": "lycee", "erea": "erea"}
BATCH = 1000


class Node(NamedTuple):
    id: int
    path: str


async def ensure_reference(session: AsyncSession) -> dict[str, Node]:
    """Create what is missing of the reference hierarchy; the départements by code."""
    nodes = await _nodes(session, [r.code for r in REGIONS])
    for region in REGIONS:
        await _ensure(session, nodes, OrganisationKind.region_academique, region.code, region.name)
    nodes.update(await _nodes(session, [a.code for a in ACADEMIES]))
    for academie in ACADEMIES:
        parent = nodes[academie.region]
        await _ensure(
            session, nodes, OrganisationKind.academie, academie.code, academie.name, parent
        )
    nodes.update(await _nodes(session, [d.code for d in DEPARTEMENTS]))
    for dep in DEPARTEMENTS:
        await _ensure(
            session, nodes, OrganisationKind.departement, dep.code, dep.name, nodes[dep.academie]
        )
    return {d.code: nodes[d.code] for d in DEPARTEMENTS}


async def _nodes(session: AsyncSession, codes: Iterable[str]) -> dict[str, Node]:
    rows = await session.execute(
        select(col(Organisation.code), col(Organisation.id), col(Organisation.path)).where(
            col(Organisation.code).in_(list(codes))
        )
    )
    return {code: Node(int(org_id or 0), path) for code, org_id, path in rows}


async def _ensure(
    session: AsyncSession,
    nodes: dict[str, Node],
    kind: OrganisationKind,
    code: str,
    name: str,
    parent: Node | None = None,
) -> None:
    if code in nodes:
        return
    organisation = Organisation(
        kind=kind, code=code, name=name, parent_id=parent.id if parent else None
    )
    session.add(organisation)
    await session.flush()
    organisation.path = f"{parent.path if parent else '/'}{organisation.id}/"
    await session.flush()
    nodes[code] = Node(int(organisation.id or 0), organisation.path)


class SchoolRow(NamedTuple):
    row: int
    uai: str
    name: str
    school_type: str | None
    departement: str


def _school_type(value: str) -> str | None:
    words = normalise_header(value).split()
    return _TYPES.get(words[0], "-".join(words)[:32]) if words else None


def _school(row: int, values: dict[str, str], columns: dict[str, str]) -> SchoolRow | str:
    """The school of one CSV row, or why it is refused (naming the file's column)."""
    uai = values.get("uai", "").upper()
    if not is_valid_uai(uai):
        return f"colonne « {columns['uai']} » : " + (
            f"UAI invalide : {uai}" if uai else "champ obligatoire vide"
        )
    name = values.get("name", "")
    if not name:
        return f"colonne « {columns['name']} » : champ obligatoire vide"
    commune = values.get("commune")
    full_name = f"{name} ({commune})" if commune else name
    raw_departement = values.get("departement")
    departement = departement_code(raw_departement) if raw_departement else departement_of_uai(uai)
    return SchoolRow(row, uai, full_name[:200], _school_type(values.get("type", "")), departement)


async def import_schools(session: AsyncSession, path: Path) -> ImportReport:
    """Create or update every school of the file under its département; never commits."""
    rows = CsvRows(lambda: path.open("rb"), lambda header: _SCHOOL_FIELDS.get(header))
    rows.read_header()
    rows.require(["uai"], "l'UAI", SCHOOL_HEADERS["uai"])
    rows.require(["name"], "le nom de l'établissement", SCHOOL_HEADERS["name"])
    departements = await ensure_reference(session)
    report = ImportReport(sources={"annuaire"})
    batch: list[SchoolRow] = []
    for number, values in rows:
        report.rows_read += 1
        school = _school(number, values, rows.columns)
        if isinstance(school, str):
            report.reject(number, school, file=path.name)
        elif school.departement not in departements:
            report.reject(number, f"département inconnu : {school.departement}", file=path.name)
        else:
            batch.append(school)
        if len(batch) >= BATCH:
            await _upsert_schools(session, batch, departements, report)
            batch = []
    await _upsert_schools(session, batch, departements, report)
    return report


async def _upsert_schools(
    session: AsyncSession,
    schools: list[SchoolRow],
    departements: dict[str, Node],
    report: ImportReport,
) -> None:
    found = {
        org.code: org
        for org in (
            await session.execute(
                select(Organisation).where(col(Organisation.code).in_([s.uai for s in schools]))
            )
        ).scalars()
    }
    for school in schools:
        parent = departements[school.departement]
        existing = found.get(school.uai)
        if existing is None:
            found[school.uai] = await _create_school(session, school, parent)
            report.created += 1
        elif existing.kind != OrganisationKind.etablissement:
            report.reject(school.row, f"code déjà pris par un(e) {existing.kind}", file="")
        elif _same(existing, school, parent):
            report.unchanged += 1
        else:
            existing.name, existing.school_type = school.name, school.school_type
            existing.parent_id, existing.path = parent.id, f"{parent.path}{existing.id}/"
            report.updated += 1
    await session.flush()
    for organisation in found.values():  # bounded memory: forget the batch's rows
        session.expunge(organisation)


def _same(existing: Organisation, school: SchoolRow, parent: Node) -> bool:
    return (existing.name, existing.school_type, existing.parent_id) == (
        school.name,
        school.school_type,
        parent.id,
    )


async def _create_school(session: AsyncSession, school: SchoolRow, parent: Node) -> Organisation:
    parent_row = Organisation(
        id=parent.id, kind=OrganisationKind.departement, code="", name="", path=parent.path
    )
    return await create_organisation(
        session,
        kind=OrganisationKind.etablissement,
        code=school.uai,
        name=school.name,
        parent=parent_row,
        school_type=school.school_type,
    )

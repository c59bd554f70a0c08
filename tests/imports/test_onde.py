"""ONDE extracts of primary schools: one row per pupil, its legal guardians as contacts."""

from __future__ import annotations

from pathlib import Path

from broadcast.core.db import SessionFactory, transaction
from broadcast.directory.models import Organisation, OrganisationKind
from broadcast.directory.service import create_organisation
from broadcast.directory.uai import make_uai
from broadcast.imports.records import ImportKind
from tests.imports.builders import contacts_by_external_id, import_file, write_csv
from tests.support import build_world

ONDE_HEADER = [
    "Nom élève",
    "Nom d'usage élève",
    "Prénom élève",
    "Date naissance",
    "INE",
    "Cycle",
    "Niveau",
    "Classe",
    "Civilité resp. légal1",
    "Nom resp. légal1",
    "Prénom resp. légal1",
    "Tél. domicile resp. légal1",
    "Tél. portable resp. légal1",
    "Courriel resp. légal1",
    "Civilité resp. légal2",
    "Nom resp. légal2",
    "Prénom resp. légal2",
    "Tél. domicile resp. légal2",
    "Tél. portable resp. légal2",
    "Courriel resp. légal2",
]


async def test_onde_extract_latin1_semicolon(factory: SessionFactory, tmp_path: Path) -> None:
    world = await build_world(factory)
    school = await _add_primary_school(factory, world.dep67)
    rows = [
        ["SCHMITT", "", "Chloé", "03/04/2018", "123456789AB", "C2", "CP", "CP-CE1 Mme Roth",
         "MME", "SCHMITT", "Anne", "03 88 11 22 33", "06 01 02 03 04", "anne@familles.fr",
         "M.", "SCHMITT", "Paul", "", "07 81 23 45 67", ""],
        ["BECK", "", "Jules", "05/06/2017", "", "C2", "CE1", "CP-CE1 Mme Roth",
         "MME", "BECK", "Julie", "", "", "julie.beck@familles.fr",
         "", "", "", "", "", ""],
    ]  # fmt: skip
    path = write_csv(
        tmp_path / "export_onde.csv", ONDE_HEADER, rows, delimiter=";", encoding="latin-1"
    )
    run = await import_file(factory, school, path)
    assert (run.status, run.kind, run.rows_read, run.created, run.rejected) == (
        "completed",
        "onde",
        2,
        3,
        0,
    )
    contacts = await contacts_by_external_id(factory)
    anne = contacts["123456789AB:1"]
    assert (anne["first_name"], anne["role"], anne["division"], anne["level"]) == (
        "Anne",
        "guardian",
        "CP-CE1 Mme Roth",
        "CP",
    )
    assert anne["points"] == {("email", "anne@familles.fr"), ("sms", "+33601020304")}
    assert contacts["123456789AB:2"]["points"] == {("sms", "+33781234567")}
    [julie] = [c for k, c in contacts.items() if k.endswith(":1") and c["first_name"] == "Julie"]
    assert (julie["level"], julie["points"]) == ("CE1", {("email", "julie.beck@familles.fr")})


async def _add_primary_school(factory: SessionFactory, dep67: int) -> int:
    async with transaction(factory) as session:
        parent = await session.get(Organisation, dep67)
        school = await create_organisation(
            session,
            kind=OrganisationKind.etablissement,
            code=make_uai("0670900"),
            name="École Pasteur",
            parent=parent,
            school_type="ecole",
        )
    return school.id or 0


async def test_onde_messages_name_the_extracts_own_columns(
    factory: SessionFactory, tmp_path: Path
) -> None:
    world = await build_world(factory)
    school = await _add_primary_school(factory, world.dep67)
    rows = [
        ["KOCH", "", "Emma", "03/04/2018", "223456789AB", "C2", "CP", "CP",
         "MME", "KOCH", "Anne", "", "03 88 11 22 33", "",
         "M.", "", "Paul", "", "06 01 02 03 04", ""],
    ]  # fmt: skip
    path = write_csv(tmp_path / "onde.csv", ONDE_HEADER, rows, delimiter=";")
    without_guardian = write_csv(tmp_path / "eleves.csv", ONDE_HEADER[:8], rows, delimiter=";")

    run = await import_file(factory, school, path)
    refused = await import_file(factory, school, without_guardian, kind=ImportKind.onde)

    assert [(r["row"], r["reason"]) for r in run.rejections] == [
        (
            2,
            "colonne « Tél. portable resp. légal1 » : numéro fixe : il ne peut pas recevoir de SMS",
        ),
        (2, "colonne « Nom resp. légal2 » : champ obligatoire vide"),
    ]
    assert refused.error == (
        "Fichier refusé : colonne obligatoire absente : le nom du responsable légal 1 "
        "(en-têtes acceptés : « Nom resp. légal1 », « Nom responsable légal 1 », "
        "« Nom représentant légal 1 »). Colonnes du fichier : « Nom élève », "
        "« Nom d'usage élève », « Prénom élève », « Date naissance », « INE », « Cycle », "
        "« Niveau », « Classe »."
    )

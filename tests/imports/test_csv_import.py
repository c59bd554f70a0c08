"""Plain CSV contacts: encodings, delimiters, French and English headers, addresses normalised."""

from __future__ import annotations

from pathlib import Path

from broadcast.core.db import SessionFactory
from broadcast.directory.uai import make_uai
from broadcast.imports.report import format_report
from broadcast.imports.service import report_of
from tests.imports.builders import contacts_by_external_id, import_file, write_csv
from tests.support import build_world

FRENCH = ["Identifiant", "Nom", "Prénom", "Rôle", "UAI", "Classe", "Niveau", "Courriel", "Portable"]


async def test_french_headers_semicolon_latin1(factory: SessionFactory, tmp_path: Path) -> None:
    world = await build_world(factory)
    uai = make_uai("0670100")
    path = write_csv(
        tmp_path / "contacts.csv",
        FRENCH,
        [
            [
                "A1",
                "Müller",
                "Léa",
                "parent",
                uai,
                "6e B",
                "6e",
                "Lea.Muller@Exemple.FR",
                "06 12 34 56 78",
            ],
            ["A2", "Hoareau", "Éloïse", "enseignant", uai, "", "", "eloise@ac-strasbourg.fr", ""],
            ["A3", "Payet", "Noé", "responsable légal", uai, "5e A", "5e", "", "0690 12 34 56"],
        ],
        delimiter=";",
        encoding="latin-1",
    )
    run = await import_file(factory, world.school_x, path)
    assert (run.status, run.rows_read, run.created, run.rejected) == ("completed", 3, 3, 0)
    assert run.kind == "csv"
    contacts = await contacts_by_external_id(factory)
    lea = contacts["A1"]
    assert (lea["last_name"], lea["first_name"], lea["role"]) == ("Müller", "Léa", "guardian")
    assert (lea["division"], lea["level"], lea["source"]) == ("6e B", "6e", "csv")
    assert lea["points"] == {("email", "Lea.Muller@exemple.fr"), ("sms", "+33612345678")}
    assert contacts["A2"]["role"] == "teacher"
    assert contacts["A2"]["first_name"] == "Éloïse"
    assert contacts["A3"]["points"] == {("sms", "+590690123456")}


async def test_english_headers_comma_utf8_with_bom(factory: SessionFactory, tmp_path: Path) -> None:
    world = await build_world(factory)
    path = write_csv(
        tmp_path / "contacts.csv",
        ["Last name", "First name", "Role", "Class", "Level", "Email", "Mobile"],
        [["Weiss", "Zoé", "guardian", "6e A", "6e", "zoe@familles.fr", "+33 7 81 23 45 67"]],
        encoding="utf-8-sig",
    )
    run = await import_file(factory, world.school_x, path)
    assert (run.status, run.created) == ("completed", 1)
    [zoe] = (await contacts_by_external_id(factory)).values()
    assert (zoe["first_name"], zoe["organisation_id"]) == ("Zoé", world.school_x)
    assert zoe["points"] == {("email", "zoe@familles.fr"), ("sms", "+33781234567")}


async def test_a_file_without_the_required_columns_is_refused_whole(
    factory: SessionFactory, tmp_path: Path
) -> None:
    world = await build_world(factory)
    path = write_csv(tmp_path / "x.csv", ["Prénom", "Courriel"], [["Léa", "lea@familles.fr"]])
    run = await import_file(factory, world.school_x, path)
    assert run.status == "failed"
    assert run.error == (
        "Fichier refusé : colonne obligatoire absente : le nom (en-têtes acceptés : « Nom », "
        "« Nom de famille », « Last name », « Lastname », « Surname », « Family name »). "
        "Colonnes du fichier : « Prénom », « Courriel »."
    )
    assert await contacts_by_external_id(factory) == {}


async def test_messages_name_the_files_own_columns(factory: SessionFactory, tmp_path: Path) -> None:
    world = await build_world(factory)
    header = ["NOM DE FAMILLE", "Qualité", "E-mail", "Tél. portable", "Code UAI"]
    no_address = write_csv(tmp_path / "a.csv", header[:2], [["Weiss", "parent"]])
    path = write_csv(
        tmp_path / "contacts.csv",
        header,
        [
            ["", "parent", "a@familles.fr", "", ""],
            ["Weiss", "cousin", "b@familles.fr", "", ""],
            ["Weiss", "parent", "pas-une-adresse", "03 88 12 34 56", ""],
            ["Weiss", "parent", "c@familles.fr", "", "0670100A"],
        ],
        delimiter=";",
    )

    refused = await import_file(factory, world.school_x, no_address)
    run = await import_file(factory, world.school_x, path)

    assert refused.error is not None and refused.error.startswith(
        "Fichier refusé : colonne obligatoire absente : une adresse (courriel ou portable) "
        "(en-têtes acceptés : « Courriel », « Email », « E-mail », « Mail », « Mél », "
    )
    assert refused.error.endswith("Colonnes du fichier : « NOM DE FAMILLE », « Qualité ».")
    assert format_report(report_of(run))[1:] == [
        "contacts.csv, ligne 2 : colonne « NOM DE FAMILLE » : champ obligatoire vide",
        "contacts.csv, ligne 3 : colonne « Qualité » : rôle inconnu : cousin",
        "contacts.csv, ligne 4 : colonne « E-mail » : adresse e-mail invalide : pas-une-adresse ; "
        "colonne « Tél. portable » : numéro fixe : il ne peut pas recevoir de SMS",
        "contacts.csv, ligne 5 : colonne « Code UAI » : UAI invalide : 0670100A",
    ]


async def test_overseas_mobiles_written_with_33_are_imported_under_their_own_code(
    factory: SessionFactory, tmp_path: Path
) -> None:
    world = await build_world(factory)
    path = write_csv(
        tmp_path / "contacts.csv",
        ["Identifiant", "Nom", "Portable"],
        [["R1", "Payet", "+33 6 92 12 34 56"], ["M1", "Madi", "0033 6 39 01 23 45"]],
        delimiter=";",
    )
    run = await import_file(factory, world.school_x, path)
    assert (run.status, run.created, run.rejected) == ("completed", 2, 0)
    contacts = await contacts_by_external_id(factory)
    assert contacts["R1"]["points"] == {("sms", "+262692123456")}
    assert contacts["M1"]["points"] == {("sms", "+262639012345")}
    lines = format_report(report_of(run))
    assert lines[1:] == [
        "contacts.csv, ligne 2 [R1] : colonne « Portable » : numéro mobile de La Réunion écrit "
        "avec l'indicatif +33 : enregistré avec l'indicatif +262 (ligne importée)",
        "contacts.csv, ligne 3 [M1] : colonne « Portable » : numéro mobile de Mayotte écrit "
        "avec l'indicatif +33 : enregistré avec l'indicatif +262 (ligne importée)",
    ]

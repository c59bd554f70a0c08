"""SIECLE exports: pupils with their class and level, legal guardians linked to their pupils."""

from __future__ import annotations

from pathlib import Path

from broadcast.core.db import SessionFactory
from broadcast.directory.uai import make_uai
from tests.imports.builders import (
    Person,
    Pupil,
    contacts_by_external_id,
    import_file,
    siecle_guardians_xml,
    siecle_pupils_xml,
)
from tests.support import build_world

PUPILS = [
    Pupil("1001", "MARTIN", "Léo", "6A"),
    Pupil("1002", "MARTIN", "Inès", "4C", code_mef="10210001110"),
    Pupil("1003", "KLEIN", "Théo", "6A"),
]
PERSONS = [
    Person(
        "501",
        "MARTIN",
        "Sophie",
        "06 11 22 33 44",
        "sophie@familles.fr",
        [("1001", "1"), ("1002", "1")],
    ),
    Person("502", "KLEIN", "Marc", "", "marc.klein@familles.fr", [("1003", "2")]),
    Person("503", "KLEIN", "Odile", "06 55 44 33 22", "", [("1003", "0")]),  # a contact, not legal
]


async def test_pupils_then_guardians_in_their_pupils_classes(
    factory: SessionFactory, tmp_path: Path
) -> None:
    world = await build_world(factory)
    uai = make_uai("0670100")
    pupils = tmp_path / "ElevesSansAdresses.xml"
    pupils.write_bytes(siecle_pupils_xml(uai, PUPILS))
    guardians = tmp_path / "ResponsablesAvecAdresses.xml"
    guardians.write_bytes(siecle_guardians_xml(uai, PERSONS))

    first = await import_file(factory, world.school_x, pupils)
    second = await import_file(factory, world.school_x, guardians)

    assert (first.kind, first.rows_read, first.created, first.rejected) == ("siecle", 3, 3, 0)
    assert (second.rows_read, second.created, second.rejected) == (3, 3, 0)
    contacts = await contacts_by_external_id(factory)
    assert {k: (c["role"], c["division"], c["level"]) for k, c in contacts.items()} == {
        "1001": ("pupil", "6A", "6e"),
        "1002": ("pupil", "4C", "4e"),
        "1003": ("pupil", "6A", "6e"),
        "501:1001": ("guardian", "6A", "6e"),
        "501:1002": ("guardian", "4C", "4e"),
        "502:1003": ("guardian", "6A", "6e"),
    }
    sophie = contacts["501:1002"]
    assert (sophie["last_name"], sophie["first_name"], sophie["source"]) == (
        "MARTIN",
        "Sophie",
        "siecle",
    )
    assert sophie["points"] == {("email", "sophie@familles.fr"), ("sms", "+33611223344")}
    assert contacts["502:1003"]["points"] == {("email", "marc.klein@familles.fr")}
    assert {c["organisation_id"] for c in contacts.values()} == {world.school_x}


async def test_xml_not_well_formed_is_refused_whole(
    factory: SessionFactory, tmp_path: Path
) -> None:
    world = await build_world(factory)
    data = siecle_pupils_xml(make_uai("0670100"), PUPILS * 1)
    path = tmp_path / "ElevesSansAdresses.xml"
    path.write_bytes(data.replace(b"</STRUCTURES>", b"</STRUCTURE>"))
    run = await import_file(factory, world.school_x, path)
    assert run.status == "failed"
    assert run.error is not None and run.error.startswith("Fichier refusé : XML mal formé (ligne")
    assert (run.created, run.rows_read) == (0, 0)
    assert await contacts_by_external_id(factory) == {}

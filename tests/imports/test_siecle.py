"""SIECLE exports: pupils with their class and level, legal guardians linked to their pupils."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from broadcast.core.db import SessionFactory, transaction
from broadcast.directory.privacy import purge
from broadcast.directory.uai import make_uai
from broadcast.imports.report import format_report
from broadcast.imports.service import report_of
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
    assert (second.rows_read, second.created, second.rejected, second.skipped) == (4, 3, 0, 1)
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


def _siecle_date(day: date) -> str:
    return day.strftime("%d/%m/%Y")


async def test_a_guardian_who_refused_sms_gets_no_sms_contact_point(
    factory: SessionFactory, tmp_path: Path
) -> None:
    world = await build_world(factory)
    uai = make_uai("0670100")
    path = tmp_path / "ResponsablesAvecAdresses.xml"
    path.write_bytes(siecle_guardians_xml(uai, PERSONS))
    await import_file(factory, world.school_x, path)
    contacts = await contacts_by_external_id(factory)
    assert ("sms", "+33611223344") in contacts["501:1001"]["points"]

    refusing = [
        Person("501", "MARTIN", "Sophie", "06 11 22 33 44", "sophie@familles.fr", [("1001", "1")]),
        Person("504", "WEBER", "Paul", "06 22 33 44 55", "", [("1003", "1")]),
    ]
    for person in refusing:
        person.accepts_sms = "0"
    path.write_bytes(siecle_guardians_xml(uai, refusing))
    run = await import_file(factory, world.school_x, path)

    assert (run.status, run.created, run.updated, run.rejected) == ("completed", 1, 1, 0)
    contacts = await contacts_by_external_id(factory)
    assert contacts["501:1001"]["points"] == {("email", "sophie@familles.fr")}
    assert contacts["504:1003"]["points"] == set(), "imported, with no address to send to"
    refusal = "refus des SMS (ACCEPTE_SMS = 0) : le numéro de portable n'est pas utilisé"
    assert format_report(report_of(run))[1:] == [
        f"ResponsablesAvecAdresses.xml, ligne 1 [501:1001] : {refusal} (ligne importée)",
        f"ResponsablesAvecAdresses.xml, ligne 2 [504:1003] : {refusal} (ligne importée)",
    ]


async def test_a_pupil_who_left_and_his_guardians_are_imported_as_left_then_purged(
    factory: SessionFactory, tmp_path: Path
) -> None:
    world = await build_world(factory)
    uai = make_uai("0670100")
    today = datetime.now(UTC).date()
    long_ago, soon = today - timedelta(days=800), today + timedelta(days=30)
    guardians = tmp_path / "ResponsablesAvecAdresses.xml"
    guardians.write_bytes(siecle_guardians_xml(uai, PERSONS))
    await import_file(factory, world.school_x, guardians)  # before the pupils' file
    pupils = [
        Pupil("1001", "MARTIN", "Léo", "6A", left_on=_siecle_date(long_ago)),
        Pupil("1002", "MARTIN", "Inès", "4C", left_on=_siecle_date(soon)),
        Pupil("1003", "KLEIN", "Théo", "6A"),
    ]
    path = tmp_path / "ElevesSansAdresses.xml"
    path.write_bytes(siecle_pupils_xml(uai, pupils))

    run = await import_file(factory, world.school_x, path)
    again = await import_file(factory, world.school_x, guardians)

    assert (run.created, run.rejected, again.updated) == (3, 0, 3), "now in their pupils' classes"
    contacts = await contacts_by_external_id(factory)
    left = {key for key, contact in contacts.items() if contact["left_at"] is not None}
    assert left == {"1001", "501:1001"}, "Sophie stays reachable as Inès's guardian"
    assert contacts["1001"]["left_at"] == datetime(
        long_ago.year, long_ago.month, long_ago.day, tzinfo=UTC
    )
    async with transaction(factory) as session:
        purged = await purge(session, now=datetime.now(UTC))
    assert purged.contacts == 2
    assert set(await contacts_by_external_id(factory)) == {"1002", "1003", "501:1002", "502:1003"}


async def test_rows_are_the_elements_ranks_and_non_legal_links_are_skipped_with_a_reason(
    factory: SessionFactory, tmp_path: Path
) -> None:
    world = await build_world(factory)
    uai = make_uai("0670100")
    persons = [*PERSONS, Person("505", "", "Anonyme", "06 99 88 77 66", "", [("1002", "2")])]
    path = tmp_path / "ResponsablesAvecAdresses.xml"
    path.write_bytes(siecle_guardians_xml(uai, persons))

    run = await import_file(factory, world.school_x, path)

    assert (run.rows_read, run.created, run.rejected, run.skipped) == (5, 3, 1, 1)
    lines = format_report(report_of(run))
    assert lines == [
        "5 ligne(s) lue(s), 3 contact(s) créé(s), 0 mis à jour, 0 inchangé(s), 1 rejeté(s), "
        "0 marqué(s) comme parti(s), 1 ignorée(s).",
        "ResponsablesAvecAdresses.xml, ligne 4 [503:1003] : contact non responsable légal "
        "(RESP_LEGAL 0) : lien non importé",
        "ResponsablesAvecAdresses.xml, ligne 5 [505:1002] : "
        "champ obligatoire manquant : NOM_DE_FAMILLE",
    ]

"""Re-import: idempotent on the source's stable id, missing contacts of a full import marked
left (not deleted), suppressions untouched."""

from __future__ import annotations

from pathlib import Path

from broadcast.core.db import SessionFactory, transaction
from broadcast.directory.models import Organisation
from broadcast.directory.service import is_suppressed, suppress
from broadcast.directory.uai import make_uai
from broadcast.imports.models import ImportStatus
from broadcast.imports.service import create_run, run_import
from tests.imports.builders import (
    Person,
    Pupil,
    contacts_by_external_id,
    import_file,
    siecle_guardians_xml,
    siecle_pupils_xml,
    write_csv,
)
from tests.support import build_world

HEADER = ["identifiant", "nom", "prénom", "classe", "courriel", "portable"]
ROWS = [
    ["G1", "Adam", "Eve", "6e A", "eve@familles.fr", "06 10 00 00 01"],
    ["G2", "Bloch", "Max", "6e B", "max@familles.fr", "06 10 00 00 02"],
    ["G3", "Cohen", "Lou", "5e A", "", "06 10 00 00 03"],
]


async def _snapshot(factory: SessionFactory) -> dict[str, dict[str, object]]:
    return await contacts_by_external_id(factory)


async def test_same_file_twice_changes_nothing_and_stop_survives(
    factory: SessionFactory, tmp_path: Path
) -> None:
    world = await build_world(factory)
    path = write_csv(tmp_path / "c.csv", HEADER, ROWS, delimiter=";")
    await import_file(factory, world.school_x, path)
    async with transaction(factory) as session:
        await suppress(session, "sms", "+33610000002", "stop")
    before = await _snapshot(factory)

    again = await import_file(factory, world.school_x, path, full=True)

    assert (again.created, again.updated, again.unchanged, again.left) == (0, 0, 3, 0)
    assert await _snapshot(factory) == before
    async with transaction(factory) as session:
        assert await is_suppressed(session, "sms", "+33610000002")


async def test_changes_update_in_place_and_the_missing_are_marked_left(
    factory: SessionFactory, tmp_path: Path
) -> None:
    world = await build_world(factory)
    first = write_csv(tmp_path / "c.csv", HEADER, ROWS)
    await import_file(factory, world.school_x, first)
    ids = {k: c["id"] for k, c in (await _snapshot(factory)).items()}
    changed = [
        ["G1", "Adam", "Eve", "5e A", "eve@familles.fr", "06 10 00 00 01"],  # new class
        ["G2", "Bloch", "Max", "6e B", "max@nouveau.fr", "06 10 00 00 02"],  # new e-mail
    ]
    second = write_csv(tmp_path / "c2.csv", HEADER, changed)

    run = await import_file(factory, world.school_x, second, full=True)

    assert (run.created, run.updated, run.unchanged, run.left) == (0, 2, 0, 1)
    contacts = await _snapshot(factory)
    assert {k: c["id"] for k, c in contacts.items()} == ids
    assert contacts["G1"]["division"] == "5e A"
    assert contacts["G2"]["points"] == {("email", "max@nouveau.fr"), ("sms", "+33610000002")}
    assert contacts["G3"]["left_at"] is not None
    assert contacts["G1"]["left_at"] is None

    back = await import_file(factory, world.school_x, first)
    assert (back.updated, back.unchanged) == (3, 0)
    assert all(c["left_at"] is None for c in (await _snapshot(factory)).values())


async def test_full_import_marks_only_its_school_source_and_roles(
    factory: SessionFactory, tmp_path: Path
) -> None:
    world = await build_world(factory)
    uai = make_uai("0670100")
    pupils = tmp_path / "ElevesSansAdresses.xml"
    pupils.write_bytes(
        siecle_pupils_xml(uai, [Pupil("1", "A", "B", "6A"), Pupil("2", "C", "D", "6A")])
    )
    guardians = tmp_path / "ResponsablesAvecAdresses.xml"
    persons = [Person("9", "A", "Mia", "", "mia@familles.fr", [("1", "1"), ("2", "2")])]
    guardians.write_bytes(siecle_guardians_xml(uai, persons))
    csv_file = write_csv(tmp_path / "c.csv", HEADER, ROWS)
    for path in (pupils, guardians, csv_file):
        await import_file(factory, world.school_x, path)
    before = await _snapshot(factory)

    again = await import_file(factory, world.school_x, guardians, full=True)
    assert (again.unchanged, again.left) == (2, 0)  # the pupils are not guardians
    one_link = [Person("9", "A", "Mia", "", "mia@familles.fr", [("1", "1")])]
    guardians.write_bytes(siecle_guardians_xml(uai, one_link))
    fewer = await import_file(factory, world.school_x, guardians, full=True)
    assert (fewer.unchanged, fewer.left) == (1, 1)

    after = await _snapshot(factory)
    assert [k for k, c in after.items() if c["left_at"] is not None] == ["9:2"]
    assert len(after) == len(before) == 2 + 2 + 3


async def test_a_job_run_twice_imports_once_and_a_killed_run_starts_again(
    factory: SessionFactory, tmp_path: Path
) -> None:
    world = await build_world(factory)
    path = write_csv(tmp_path / "c.csv", HEADER, ROWS)
    async with transaction(factory) as session:
        school = await session.get(Organisation, world.school_x)
        assert school is not None
        killed = await create_run(session, None, school, filename="c.csv")
        killed.status = ImportStatus.running  # its worker died: its transaction never committed
    assert killed.id is not None

    first = await run_import(factory, killed.id, path)
    again = await run_import(factory, killed.id, path)

    assert first is not None and again is not None
    assert (first.status, first.created) == ("completed", 3)
    assert (again.status, again.created, again.finished_at) == ("completed", 3, first.finished_at)
    assert len(await _snapshot(factory)) == 3


async def test_a_full_import_leaves_alone_refused_rows_and_schools_it_did_not_import(
    factory: SessionFactory, tmp_path: Path
) -> None:
    world = await build_world(factory)
    await import_file(factory, world.school_x, write_csv(tmp_path / "a.csv", HEADER, ROWS))
    refused = [["G1", "", "Eve", "6e A", "eve@familles.fr", ""], *ROWS[1:2]]  # G1 has no name
    partly = await import_file(
        factory, world.school_x, write_csv(tmp_path / "b.csv", HEADER, refused), full=True
    )
    nothing = await import_file(
        factory, world.school_x, write_csv(tmp_path / "c.csv", HEADER, refused[:1]), full=True
    )
    assert (partly.rejected, partly.unchanged, partly.left) == (1, 1, 1)  # G3 only
    assert (nothing.rejected, nothing.left) == (1, 0)
    contacts = await _snapshot(factory)
    assert [k for k, c in contacts.items() if c["left_at"] is not None] == ["G3"]

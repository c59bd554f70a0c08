"""POST /api/v1/imports runs the import as a background job; GET shows progress and report."""

from __future__ import annotations

from redis.asyncio import Redis
from sqlalchemy import select

from broadcast.accounts.models import AuditEvent
from broadcast.core.db import SessionFactory, transaction
from broadcast.directory.uai import make_uai
from broadcast.imports.models import ImportRun, ImportStatus
from broadcast.imports.progress import ImportProgress
from broadcast.imports.report import ImportReport
from broadcast.settings import Settings
from tests.imports.builders import contacts_by_external_id
from tests.support import api, auth, build_world, run_burst_workers

CSV = (
    "identifiant;nom;prénom;uai;classe;courriel\r\n"
    f"1;Roth;Anna;{make_uai('0670100')};6e A;anna@familles.fr\r\n"
    f"2;Weber;Paul;{make_uai('0670200')};6e A;paul@familles.fr\r\n"
    f"3;Huber;Lina;{make_uai('0670100')};5e B;lina@familles.fr\r\n"
).encode()


async def test_head_teacher_imports_his_school_only(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    async with api(settings) as client:
        started = await client.post(
            "/api/v1/imports",
            headers=auth(world.keys["head_x"]),
            data={"organisation_id": str(world.school_x)},
            files={"file": ("familles.csv", CSV, "text/csv")},
        )
        assert started.status_code == 202, started.text
        assert (started.json()["status"], started.json()["filename"]) == ("pending", "familles.csv")
        await run_burst_workers(settings)
        report = await client.get(
            f"/api/v1/imports/{started.json()['id']}", headers=auth(world.keys["head_x"])
        )
    body = report.json()
    assert (body["status"], body["kind"], body["rows_read"], body["created"]) == (
        "completed",
        "csv",
        3,
        2,
    )
    assert body["rejected"] == 1
    assert [(r["row"], r["reason"]) for r in body["rejections"]] == [
        (3, "colonne « uai » : établissement hors de votre périmètre")
    ]
    contacts = await contacts_by_external_id(factory)
    assert sorted(contacts) == ["1", "3"]
    assert {c["organisation_id"] for c in contacts.values()} == {world.school_x}
    assert not (settings.var_dir / "imports" / str(body["id"])).exists()
    async with transaction(factory) as session:
        actions = (await session.execute(select(AuditEvent.action))).scalars().all()
    assert {"contacts.import.start", "contacts.import"} <= set(actions)


async def test_scope_role_and_size_are_checked(settings: Settings, factory: SessionFactory) -> None:
    world = await build_world(factory)
    upload = {"file": ("familles.csv", CSV, "text/csv")}
    settings = settings.model_copy(update={"import_max_upload_mb": 1})
    async with api(settings) as client:
        other_school = await client.post(
            "/api/v1/imports",
            headers=auth(world.keys["head_x"]),
            data={"organisation_id": str(world.school_y)},
            files=upload,
        )
        viewer = await client.post(
            "/api/v1/imports",
            headers=auth(world.keys["viewer_x"]),
            data={"organisation_id": str(world.school_x)},
            files=upload,
        )
        too_large = await client.post(
            "/api/v1/imports",
            headers=auth(world.keys["officer"]),
            data={"organisation_id": str(world.academie)},
            files={"file": ("big.csv", b"x" * ((settings.import_max_upload_mb << 20) + 1))},
        )
    assert other_school.status_code == 404
    assert viewer.status_code == 403
    assert too_large.status_code == 422
    assert too_large.json()["error"]["message"] == "Fichier trop volumineux : au plus 1 Mo."
    async with transaction(factory) as session:
        assert (await session.execute(select(ImportRun))).first() is None
    assert not any((settings.var_dir / "imports").glob("*/*"))


async def test_a_running_import_shows_its_progress(
    settings: Settings, factory: SessionFactory, redis: Redis
) -> None:
    world = await build_world(factory)
    async with transaction(factory) as session:
        run = ImportRun(organisation_id=world.school_x, kind="siecle", status=ImportStatus.running)
        session.add(run)
    assert run.id is not None
    async with api(settings) as client:
        await ImportProgress(redis).publish(
            run.id, ImportReport(rows_read=4000, created=3990, rejected=10)
        )
        response = await client.get(f"/api/v1/imports/{run.id}", headers=auth(world.keys["head_x"]))
    body = response.json()
    assert (body["status"], body["rows_read"], body["created"], body["rejected"]) == (
        "running",
        4000,
        3990,
        10,
    )


async def test_the_same_upload_with_the_same_idempotency_key_starts_one_run(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    headers = {**auth(world.keys["head_x"]), "Idempotency-Key": "import-familles-1"}
    form = {"organisation_id": str(world.school_x)}
    async with api(settings) as client:
        first, replay, other_file = [
            await client.post(
                "/api/v1/imports",
                headers=headers,
                data=form,
                files={"file": ("familles.csv", content, "text/csv")},
            )
            for content in (CSV, CSV, CSV + b"4;Klein;Eva;0670100V;6e A;eva@familles.fr\r\n")
        ]
    assert first.status_code == replay.status_code == 202, first.text
    assert replay.json() == first.json()
    assert other_file.status_code == 422
    assert other_file.json()["error"]["message"] == (
        "Cette clé d'idempotence a déjà servi pour une autre requête."
    )
    async with transaction(factory) as session:
        runs = (await session.execute(select(ImportRun.id))).scalars().all()
    assert runs == [first.json()["id"]]

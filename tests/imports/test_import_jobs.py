"""An upload asks for its import job in the request's transaction: once committed, one job in
arq's import queue (a real Redis, no worker running); a refused upload queues none."""

from __future__ import annotations

from arq.connections import RedisSettings, create_pool

from broadcast.core.db import SessionFactory
from broadcast.jobs import IMPORT_QUEUE
from broadcast.settings import Settings
from tests.support import api, auth, build_world

CSV = "identifiant;nom;prénom;classe;courriel\r\n1;Roth;Anna;6e A;anna@familles.fr\r\n".encode()


async def _queued_imports(settings: Settings) -> list[tuple[str, tuple[object, ...]]]:
    pool = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    try:
        jobs = await pool.queued_jobs(queue_name=IMPORT_QUEUE)
    finally:
        await pool.aclose()
    return sorted((job.job_id or "", job.args) for job in jobs)


async def test_an_upload_queues_its_import_once_and_a_refused_one_none(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    headers = {**auth(world.keys["head_x"]), "Idempotency-Key": "familles-1"}
    form = {"organisation_id": str(world.school_x)}
    upload = {"file": ("familles.csv", CSV, "text/csv")}
    async with api(settings) as client:
        first = await client.post("/api/v1/imports", headers=headers, data=form, files=upload)
        replay = await client.post("/api/v1/imports", headers=headers, data=form, files=upload)
        elsewhere = await client.post(
            "/api/v1/imports",
            headers=auth(world.keys["head_x"]),
            data={"organisation_id": str(world.school_y)},
            files=upload,
        )
    assert first.status_code == replay.status_code == 202, first.text
    assert elsewhere.status_code == 404
    run_id = first.json()["id"]
    assert await _queued_imports(settings) == [(f"import:{run_id}", (run_id,))]

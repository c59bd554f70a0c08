"""Import runs whose job was lost are queued again; runs no job will finish are failed."""

from __future__ import annotations

from datetime import timedelta

from arq.connections import RedisSettings, create_pool
from redis.asyncio import Redis

from broadcast.core.db import SessionFactory, transaction
from broadcast.core.timeutil import utcnow
from broadcast.directory.uai import make_uai
from broadcast.imports.models import ImportRun, ImportStatus
from broadcast.imports.recovery import INTERRUPTED, resume_stalled_imports
from broadcast.settings import Settings
from tests.support import api, auth, build_world, run_burst_workers

CSV = f"nom;uai;courriel\r\nRoth;{make_uai('0670100')};anna@familles.fr\r\n".encode()


async def _age(factory: SessionFactory, run_id: int, **fields: object) -> None:
    async with transaction(factory) as session:
        run = await session.get(ImportRun, run_id)
        assert run is not None
        for name, value in fields.items():
            setattr(run, name, value)


async def _status(factory: SessionFactory, run_id: int) -> tuple[str, str | None, int]:
    async with transaction(factory) as session:
        run = await session.get(ImportRun, run_id)
        assert run is not None
        return run.status, run.error, run.created


async def test_lost_jobs_are_queued_again_and_dead_runs_failed(
    settings: Settings, factory: SessionFactory, redis: Redis
) -> None:
    world = await build_world(factory)
    async with api(settings) as client:
        started = await client.post(
            "/api/v1/imports",
            headers=auth(world.keys["head_x"]),
            data={"organisation_id": str(world.school_x)},
            files={"file": ("familles.csv", CSV, "text/csv")},
        )
    uploaded = started.json()["id"]
    await redis.flushdb()  # the job is lost
    async with transaction(factory) as session:
        no_file = ImportRun(organisation_id=world.school_x, kind="csv")
        dead = ImportRun(organisation_id=world.school_x, kind="csv", status=ImportStatus.running)
        fresh = ImportRun(organisation_id=world.school_x, kind="csv")
        session.add_all([no_file, dead, fresh])
    long_ago = utcnow() - timedelta(hours=5)
    for run in (uploaded, no_file.id, dead.id):
        await _age(factory, run or 0, created_at=long_ago, started_at=long_ago)
    await _age(factory, uploaded, started_at=None)
    await _age(factory, no_file.id or 0, started_at=None)

    assert settings.redis_url is not None
    pool = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    try:
        touched = await resume_stalled_imports(factory, pool, settings.var_dir)
    finally:
        await pool.aclose()
    await run_burst_workers(settings)

    assert touched == 3
    assert await _status(factory, uploaded) == ("completed", None, 1)
    assert await _status(factory, no_file.id or 0) == ("failed", INTERRUPTED, 0)
    assert await _status(factory, dead.id or 0) == ("failed", INTERRUPTED, 0)
    assert await _status(factory, fresh.id or 0) == ("pending", None, 0)

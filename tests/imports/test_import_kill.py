"""An import whose process is killed mid-file (issue 9, item 9): nothing of it is kept, the next
try imports the file whole, and a run killed twice is failed with a French reason instead of
being tried for ever. The kills are real (SIGKILL of the process running the import job)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import redis.asyncio as aioredis
from sqlalchemy import func, select

from broadcast.core.db import SessionFactory, transaction
from broadcast.directory.models import Contact, Organisation
from broadcast.directory.uai import make_uai
from broadcast.imports.models import ImportRun
from broadcast.imports.progress import ImportProgress
from broadcast.imports.service import INTERRUPTED_AGAIN, create_run, run_uploaded_import
from broadcast.imports.uploads import stored_upload, upload_dir
from broadcast.settings import Settings
from tests.conftest import TEST_SECRET
from tests.imports.builders import write_csv
from tests.support import build_world

ROWS = 8_000
JOB = """
import asyncio, sys
from redis.asyncio import Redis
from broadcast.core.db import create_engine, session_factory
from broadcast.imports.progress import ImportProgress
from broadcast.imports.service import run_uploaded_import
from broadcast.settings import Settings

async def main() -> None:
    settings = Settings()
    engine = create_engine(settings)
    redis = Redis.from_url(settings.redis_url)
    factory = session_factory(engine)
    await run_uploaded_import(factory, settings.var_dir, int(sys.argv[1]), ImportProgress(redis))

asyncio.run(main())
"""


async def _uploaded_run(factory: SessionFactory, school_id: int, var_dir: Path) -> int:
    async with transaction(factory) as session:
        school = await session.get(Organisation, school_id)
        assert school is not None
        run = await create_run(session, None, school, filename="familles.csv")
    assert run.id is not None
    directory = upload_dir(var_dir, run.id)
    directory.mkdir(parents=True)
    uai = make_uai("0670100")
    rows = [[f"F{n}", f"NOM{n}", uai, f"parent{n}@familles.fr"] for n in range(ROWS)]
    write_csv(directory / "familles.csv", ["Identifiant", "Nom", "UAI", "Courriel"], rows)
    return run.id


async def _kill_mid_import(settings: Settings, redis: aioredis.Redis, run_id: int) -> None:
    """Start the import job in its own process; SIGKILL it once it has read a batch."""
    await redis.delete(f"broadcast:import:{run_id}:progress")
    env = {
        **os.environ,
        "BROADCAST_ENV": "dev",
        "BROADCAST_SECRET_KEY": TEST_SECRET,
        "BROADCAST_DATABASE_URL": settings.database_url,
        "BROADCAST_REDIS_URL": settings.redis_url or "",
        "BROADCAST_VAR_DIR": str(settings.var_dir),
        "BROADCAST_LOG_LEVEL": "WARNING",
    }
    job = await asyncio.create_subprocess_exec(sys.executable, "-c", JOB, str(run_id), env=env)
    progress = ImportProgress(redis)
    try:
        for _ in range(1200):
            if (await progress.read(run_id)).get("rows_read", 0) >= 1000 or job.returncode:
                break
            await asyncio.sleep(0.05)
    finally:
        if job.returncode is None:
            job.send_signal(signal.SIGKILL)
        await job.wait()
    assert job.returncode == -signal.SIGKILL, "the import ended before it was killed"


async def _state(factory: SessionFactory, run_id: int) -> tuple[ImportRun, int]:
    async with transaction(factory) as session:
        run = await session.get(ImportRun, run_id)
        contacts = await session.scalar(select(func.count()).select_from(Contact))
    assert run is not None
    return run, int(contacts or 0)


async def test_an_import_killed_once_is_run_again_whole(
    settings: Settings, factory: SessionFactory, redis: aioredis.Redis
) -> None:
    world = await build_world(factory)
    run_id = await _uploaded_run(factory, world.school_x, settings.var_dir)

    await _kill_mid_import(settings, redis, run_id)
    killed, contacts_after_kill = await _state(factory, run_id)
    finished = await run_uploaded_import(
        factory, settings.var_dir, run_id, ImportProgress(redis)
    )  # what arq runs as the job's next try

    assert (killed.status, killed.attempts, contacts_after_kill) == ("running", 1, 0)
    assert finished is not None
    assert (finished.status, finished.created, finished.attempts) == ("completed", ROWS, 2)
    assert (await _state(factory, run_id))[1] == ROWS
    assert stored_upload(settings.var_dir, run_id) is None


async def test_an_import_killed_twice_is_failed_with_a_french_reason(
    settings: Settings, factory: SessionFactory, redis: aioredis.Redis
) -> None:
    world = await build_world(factory)
    run_id = await _uploaded_run(factory, world.school_x, settings.var_dir)

    await _kill_mid_import(settings, redis, run_id)
    await _kill_mid_import(settings, redis, run_id)
    last = await run_uploaded_import(factory, settings.var_dir, run_id, ImportProgress(redis))

    assert last is not None
    assert (last.status, last.attempts, last.created) == ("failed", 2, 0)
    assert last.error == INTERRUPTED_AGAIN
    assert last.error.startswith("Import interrompu deux fois avant la fin")
    assert (await _state(factory, run_id))[1] == 0
    assert stored_upload(settings.var_dir, run_id) is None

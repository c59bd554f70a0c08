"""The unit of work: jobs asked for in a transaction reach arq (a real Redis) once it commits,
exactly once, and never when it rolls back."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool
from sqlalchemy import select
from sqlmodel import col

from broadcast.core.db import SessionFactory, transaction
from broadcast.core.uow import enqueue_after_commit, pending_jobs, unit_of_work
from broadcast.directory.models import Organisation, OrganisationKind
from broadcast.jobs import BULK_QUEUE, IMPORT_QUEUE, fanout_job, import_job
from broadcast.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


class Refused(Exception):
    pass


@pytest.fixture
async def pool(settings: Settings, factory: SessionFactory) -> AsyncIterator[ArqRedis]:
    redis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    yield redis
    await redis.aclose()


async def _queued_ids(pool: ArqRedis, queue: str) -> list[str]:
    return sorted(job.job_id or "" for job in await pool.queued_jobs(queue_name=queue))


async def _organisation_codes(factory: SessionFactory) -> list[str]:
    async with transaction(factory) as session:
        rows = await session.execute(select(col(Organisation.code)))
        return list(rows.scalars())


def _academie(code: str) -> Organisation:
    name = f"Académie {code}"
    return Organisation(kind=OrganisationKind.academie, code=code, name=name, path="/")


async def test_a_committed_unit_enqueues_each_job_once_after_its_rows_are_written(
    factory: SessionFactory, pool: ArqRedis
) -> None:
    seen_at_enqueue: list[list[str]] = []
    async with unit_of_work(factory, pool) as uow:
        uow.session.add(_academie("NANCY"))
        enqueue_after_commit(uow.session, fanout_job(7, "normal"), import_job(3))
        assert await _queued_ids(pool, BULK_QUEUE) == []  # nothing before the commit
        uow.after_commit(lambda: _record(seen_at_enqueue, pool, factory))
    assert await _queued_ids(pool, BULK_QUEUE) == ["fanout:7"]
    assert await _queued_ids(pool, IMPORT_QUEUE) == ["import:3"]
    assert seen_at_enqueue == [["NANCY", "fanout:7"]]
    assert pending_jobs(uow.session) == []


async def _record(seen: list[list[str]], pool: ArqRedis, factory: SessionFactory) -> None:
    """The boundary's own work runs after the commit (the row is visible) and the jobs."""
    seen.append(await _organisation_codes(factory) + await _queued_ids(pool, BULK_QUEUE))


async def test_a_unit_that_fails_after_asking_for_a_job_enqueues_nothing(
    factory: SessionFactory, pool: ArqRedis
) -> None:
    ran: list[str] = []

    async def after() -> None:
        ran.append("after")

    with pytest.raises(Refused):
        async with unit_of_work(factory, pool) as uow:
            uow.session.add(_academie("LILLE"))
            uow.enqueue(fanout_job(8, "normal"))
            uow.after_commit(after)
            await uow.session.flush()
            raise Refused()
    assert await _queued_ids(pool, BULK_QUEUE) == []
    assert await _organisation_codes(factory) == []
    assert ran == []


class CountingPool:
    """The arq pool, forwarded to, with the job id of every enqueue call recorded."""

    def __init__(self, pool: ArqRedis) -> None:
        self.pool = pool
        self.calls: list[str | None] = []

    async def enqueue_job(
        self,
        function: str,
        *args: object,
        _job_id: str | None = None,
        _queue_name: str | None = None,
    ) -> object:
        self.calls.append(_job_id)
        return await self.pool.enqueue_job(
            function, *args, _job_id=_job_id, _queue_name=_queue_name
        )


async def test_the_same_job_asked_twice_in_one_unit_is_enqueued_once(
    factory: SessionFactory, pool: ArqRedis
) -> None:
    counting = CountingPool(pool)
    async with transaction(factory, counting) as session:
        enqueue_after_commit(session, fanout_job(9, "normal"))
        enqueue_after_commit(session, fanout_job(9, "normal"), import_job(4))
    assert counting.calls == ["fanout:9", "import:4"]
    async with transaction(factory, counting) as session:
        enqueue_after_commit(session, fanout_job(9, "normal"))  # arq drops a queued job id
    assert await _queued_ids(pool, BULK_QUEUE) == ["fanout:9"]


async def test_without_an_enqueuer_the_jobs_are_not_enqueued_and_said_so(
    factory: SessionFactory, pool: ArqRedis, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="broadcast.core.uow"):
        async with transaction(factory) as session:
            session.add(_academie("DIJON"))
            enqueue_after_commit(session, fanout_job(10, "normal"))
    assert await _organisation_codes(factory) == ["DIJON"]
    assert await _queued_ids(pool, BULK_QUEUE) == []
    assert "1 job(s) asked for without a queue, not enqueued: fanout:10" in caplog.text


def test_no_job_is_enqueued_outside_the_unit_of_work() -> None:
    """Every job goes through :func:`enqueue_after_commit`: only the unit of work calls arq."""
    callers = sorted(
        str(path.relative_to(ROOT))
        for package in ("broadcast", "admin", "workers", "bench")
        for path in (ROOT / package).rglob("*.py")
        if ".enqueue_job(" in path.read_text(encoding="utf-8")
    )
    assert callers == ["broadcast/core/uow.py"]

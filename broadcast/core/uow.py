"""The unit of work: one transaction and what must follow its commit.

Services never commit and never enqueue. They write in the session they are given and ask, with
:func:`enqueue_after_commit`, for the jobs that must follow (a fan-out, dispatch batches, webhook
deliveries, the approvers' email). The boundary that owns the transaction opens it with
:func:`unit_of_work`: the request (``admin.deps``), a job (the arq tasks of ``workers/`` and the
services they run, one unit per step) or a command. Once it has committed, the jobs asked for in
it are enqueued, each once, then the boundary's own after-commit work runs; when it rolls back,
nothing is enqueued. This module is the only one that calls ``enqueue_job`` (polar's worker
``JobQueueManager`` is the model).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from broadcast.core.db import SessionFactory

log = logging.getLogger(__name__)

PENDING_KEY = "broadcast.core.uow.jobs"


@dataclass(frozen=True, slots=True)
class Job:
    """One arq job: its function, its arguments (ids only), its deterministic id and queue."""

    function: str
    args: tuple[object, ...]
    job_id: str
    queue_name: str


class Enqueuer(Protocol):
    """arq's pool, or a recorder in tests."""

    async def enqueue_job(
        self, function: str, *args: object, _job_id: str | None = ..., _queue_name: str | None = ...
    ) -> object: ...


def enqueue_after_commit(session: AsyncSession, *jobs: Job) -> None:
    """Ask for ``jobs`` once the transaction of ``session`` commits; nothing if it rolls back."""
    pending: list[Job] = session.info.setdefault(PENDING_KEY, [])
    pending.extend(jobs)


def forget_pending_jobs(session: AsyncSession) -> None:
    """Drop what was asked for in ``session``: its writes were rolled back by hand (a refused
    form whose page is shown again)."""
    session.info.pop(PENDING_KEY, None)


def pending_jobs(session: AsyncSession) -> list[Job]:
    """The jobs asked for in ``session`` and not yet enqueued."""
    pending: list[Job] = session.info.get(PENDING_KEY, [])
    return list(pending)


@dataclass
class UnitOfWork:
    """The session of one transaction and the boundary's own work to run once it commits."""

    session: AsyncSession
    _after_commit: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def enqueue(self, *jobs: Job) -> None:
        enqueue_after_commit(self.session, *jobs)

    def after_commit(self, work: Callable[[], Awaitable[None]]) -> None:
        """In-process work of the boundary (rendering status pages), run after the jobs."""
        self._after_commit.append(work)


@asynccontextmanager
async def unit_of_work(
    factory: SessionFactory, enqueuer: Enqueuer | None
) -> AsyncIterator[UnitOfWork]:
    """Commit on success, then enqueue what was asked for and run the after-commit work; roll
    back on error and enqueue nothing. Without ``enqueuer`` (a command), the jobs asked for are
    logged, not enqueued: the recovery sweeps find stalled fan-outs, imports and webhook
    messages again."""
    async with factory() as session:
        uow = UnitOfWork(session)
        try:
            yield uow
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
        jobs = session.info.pop(PENDING_KEY, [])
    await _enqueue(enqueuer, jobs)
    for work in uow._after_commit:
        await work()


async def _enqueue(enqueuer: Enqueuer | None, jobs: Sequence[Job]) -> None:
    jobs = list({job.job_id: job for job in jobs}.values())  # asked twice, enqueued once
    if enqueuer is None:
        if jobs:
            log.warning(
                "%d job(s) asked for without a queue, not enqueued: %s", len(jobs), _names(jobs)
            )
        return
    await asyncio.gather(
        *(
            enqueuer.enqueue_job(
                job.function, *job.args, _job_id=job.job_id, _queue_name=job.queue_name
            )
            for job in jobs
        )
    )


def _names(jobs: Sequence[Job]) -> str:
    return ", ".join(job.job_id for job in jobs)

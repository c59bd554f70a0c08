"""Imports whose job was lost (a Redis restarted without persistence) are queued again; those
that no job will finish any more are marked failed, so that no run stays pending or running."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.core.db import SessionFactory, transaction
from broadcast.core.timeutil import utcnow
from broadcast.core.uow import Enqueuer, enqueue_after_commit
from broadcast.imports.models import ImportRun, ImportStatus
from broadcast.imports.service import MAX_ATTEMPTS, fail_run
from broadcast.imports.uploads import discard_upload, stored_upload
from broadcast.jobs import import_job

IMPORT_JOB_TIMEOUT_S = 3600
"""One transaction per file: a job may run that long (arq does not retry a timeout)."""
IMPORT_JOB_TRIES = MAX_ATTEMPTS + 1
"""A killed worker's import is run again from nothing (its transaction never committed); the
last try finds the run started ``MAX_ATTEMPTS`` times and fails it with its reason (arq, past
its tries, would drop the job without calling it)."""
PENDING_AFTER = timedelta(minutes=5)
LOST_AFTER = timedelta(seconds=(IMPORT_JOB_TRIES + 1) * (IMPORT_JOB_TIMEOUT_S + 10))

INTERRUPTED = "Import interrompu : rien n'a été modifié. Déposez le fichier à nouveau."


async def resume_stalled_imports(factory: SessionFactory, queue: Enqueuer, var_dir: Path) -> int:
    """Queue again the uploaded runs still pending after a while (arq ignores the job id while
    the first job is queued or running); fail the runs no job will finish."""
    async with transaction(factory, queue) as session:
        pending, lost = await _stalled(session)
        touched = len(pending) + len(lost)
        for run_id in pending:
            if stored_upload(var_dir, run_id) is None:
                lost.append(run_id)
            else:
                enqueue_after_commit(session, import_job(run_id))
    for run_id in lost:
        await fail_run(factory, run_id, INTERRUPTED)
        discard_upload(var_dir, run_id)
    return touched


async def _stalled(session: AsyncSession) -> tuple[list[int], list[int]]:
    now = utcnow()
    pending = await session.scalars(
        select(col(ImportRun.id)).where(
            col(ImportRun.status) == ImportStatus.pending,
            col(ImportRun.created_at) < now - PENDING_AFTER,
        )
    )
    lost = await session.scalars(
        select(col(ImportRun.id)).where(
            col(ImportRun.status) == ImportStatus.running,
            col(ImportRun.started_at) < now - LOST_AFTER,
        )
    )
    return [int(i or 0) for i in pending], [int(i or 0) for i in lost]

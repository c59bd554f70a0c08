"""A worker process: one arq Worker per queue, sharing the process's resources.

The urgent queue has its own Worker, with its own job slots, so an urgent broadcast never
waits behind bulk jobs. Imports have their own Worker too, whose long job timeout stays its own:
arq re-runs a killed worker's jobs only after that worker's longest timeout (RULES D3).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Sequence

from arq.connections import RedisSettings
from arq.cron import CronJob, cron
from arq.worker import Function, Worker, func

from broadcast.imports.recovery import IMPORT_JOB_TIMEOUT_S, IMPORT_JOB_TRIES
from broadcast.jobs import BULK_QUEUE, IMPORT_QUEUE, QUEUES
from broadcast.settings import Settings
from workers.resources import Resources
from workers.tasks import (
    deliver_webhook,
    dispatch,
    fanout,
    import_contacts,
    notify_approvers,
    purge_personal_data,
    recover,
    resume_imports,
    start_scheduled,
)

MAX_TRIES = 1000  # our own retry deadline, not a count of tries, decides when to give up


def build_workers(
    resources: Resources, redis_url: str, queues: Sequence[str] = QUEUES, *, burst: bool = False
) -> list[Worker]:
    """One Worker per queue; each has its own Redis pool, which it closes itself."""
    settings = resources.settings
    return [
        Worker(
            _functions(queue),
            queue_name=queue,
            redis_settings=RedisSettings.from_dsn(redis_url),
            burst=burst,
            handle_signals=False,
            max_jobs=1 if queue == IMPORT_QUEUE else settings.worker_max_jobs,
            job_timeout=settings.worker_job_timeout_s,
            poll_delay=settings.worker_poll_delay_s,
            ctx={"resources": resources},
            cron_jobs=cron_jobs(settings) if queue == BULK_QUEUE else None,
            log_results=False,
        )
        for queue in queues
    ]


def _functions(queue: str) -> list[Function]:
    if queue == IMPORT_QUEUE:  # one import at a time per process: each is one long transaction
        return [func(import_contacts, max_tries=IMPORT_JOB_TRIES, timeout=IMPORT_JOB_TIMEOUT_S)]
    return [
        func(fanout, max_tries=MAX_TRIES),
        func(dispatch, max_tries=MAX_TRIES),
        func(deliver_webhook, max_tries=MAX_TRIES, keep_result=0),  # job id free once done
        func(notify_approvers, max_tries=20),
    ]


def cron_jobs(settings: Settings) -> list[CronJob]:
    """The recovery pass each minute and at start-up, the personal-data purge each night, and
    the scheduler every ``scheduler_interval_s`` and at start-up (10 s by default: a notice
    scheduled for 08:00 leaves by 08:00:10, for one indexed query per tick). arq runs each tick
    once across workers; the scheduler's conditional update makes that certain."""
    ticks = set(range(0, 60, settings.scheduler_interval_s))
    return [
        cron(recover, run_at_startup=True),
        cron(start_scheduled, second=ticks, run_at_startup=True),
        cron(purge_personal_data, hour={3}, minute={30}, second={0}),  # daily, RULES R2
        cron(resume_imports, second={30}),
    ]


async def run_workers(
    settings: Settings, redis_url: str, queues: Sequence[str] = QUEUES, *, burst: bool = False
) -> None:
    """Run until every queue is drained (burst) or until SIGINT/SIGTERM."""
    resources = await Resources.open(settings, redis_url)
    workers = build_workers(resources, redis_url, queues, burst=burst)
    tasks = [asyncio.ensure_future(w.async_run()) for w in workers]
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, lambda: [t.cancel() for t in tasks])
    try:
        await asyncio.gather(*tasks)
    except asyncio.CancelledError:
        pass
    finally:
        for worker in workers:
            await worker.close()
        await resources.close()

"""A worker process: one arq Worker per queue, sharing the process's resources.

The urgent queue has its own Worker, with its own job slots, so an urgent broadcast never
waits behind bulk jobs. Imports have their own Worker too, whose long job timeout stays its own.
Running jobs hold short leases that their Worker renews (:mod:`workers.leases`): a killed
worker's jobs run again within ``worker_lease_s``, not after the longest job timeout (RULES D3).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Sequence

from arq.cron import CronJob, cron
from arq.worker import Function, Worker, func

from broadcast.core.outages import is_outage, retry_on_outage, wait_out_outages
from broadcast.core.redis_url import redis_settings
from broadcast.deliveries.callback_stream import CallbackStream
from broadcast.deliveries.early_status import EarlyStatuses
from broadcast.imports.recovery import IMPORT_JOB_TIMEOUT_S, IMPORT_JOB_TRIES
from broadcast.jobs import BULK_QUEUE, IMPORT_QUEUE, QUEUES
from broadcast.settings import Settings
from workers.leases import renew_leases, shorten_lease
from workers.resources import Resources
from workers.tasks import (
    alert_platform_admins,
    deliver_webhook,
    dispatch,
    fanout,
    import_contacts,
    notify_approvers,
    purge_personal_data,
    recover,
    remind_next_updates,
    resume_imports,
    start_scheduled,
    watch_redis,
)

log = logging.getLogger(__name__)

MAX_TRIES = 1000  # our own retry deadline, not a count of tries, decides when to give up


def build_workers(
    resources: Resources, redis_url: str, queues: Sequence[str] = QUEUES, *, burst: bool = False
) -> list[Worker]:
    """One Worker per queue; each has its own Redis pool, which it closes itself."""
    return [build_worker(resources, redis_url, queue, burst=burst) for queue in queues]


def build_worker(resources: Resources, redis_url: str, queue: str, *, burst: bool) -> Worker:
    settings = resources.settings
    return Worker(
        _functions(queue),
        queue_name=queue,
        redis_settings=redis_settings(redis_url),
        burst=burst,
        handle_signals=False,
        max_jobs=1 if queue == IMPORT_QUEUE else settings.worker_max_jobs,
        job_timeout=settings.worker_job_timeout_s,
        poll_delay=settings.worker_poll_delay_s,
        ctx={"resources": resources},
        cron_jobs=cron_jobs(settings) if queue == BULK_QUEUE else None,
        log_results=False,
    )


def _functions(queue: str) -> list[Function]:
    if queue == IMPORT_QUEUE:  # one import at a time per process: each is one long transaction
        return [func(import_contacts, max_tries=IMPORT_JOB_TRIES, timeout=IMPORT_JOB_TIMEOUT_S)]
    return [
        func(retry_on_outage(fanout), max_tries=MAX_TRIES),
        func(retry_on_outage(dispatch), max_tries=MAX_TRIES),
        # job id free once done
        func(retry_on_outage(deliver_webhook), max_tries=MAX_TRIES, keep_result=0),
        func(retry_on_outage(notify_approvers), max_tries=20),
        func(retry_on_outage(alert_platform_admins), max_tries=20),
    ]


def cron_jobs(settings: Settings) -> list[CronJob]:
    """The recovery pass each minute and at start-up, the personal-data purge each night, the
    check that Redis kept its data (:mod:`broadcast.core.redis_epoch`) on each tick, and
    the scheduler every ``scheduler_interval_s`` and at start-up (10 s by default: a notice
    scheduled for 08:00 leaves by 08:00:10, for one indexed query per tick), and the reminders
    of promised updates each half-minute. arq runs each tick
    once across workers; the scheduler's conditional update makes that certain."""
    ticks = set(range(0, 60, settings.scheduler_interval_s))
    return [
        cron(recover, run_at_startup=True),
        cron(start_scheduled, second=ticks, run_at_startup=True),
        cron(watch_redis, second=ticks, run_at_startup=True),
        cron(purge_personal_data, hour={3}, minute={30}, second={0}),  # daily, RULES R2
        cron(resume_imports, second={30}),
        cron(remind_next_updates, second={15, 45}),
    ]


async def run_workers(
    settings: Settings, redis_url: str, queues: Sequence[str] = QUEUES, *, burst: bool = False
) -> None:
    """Run until every queue is drained (burst) or until SIGINT/SIGTERM. When Redis or the
    database goes away the process waits for it and carries on; it never exits for that."""
    resources = await _open_resources(settings, redis_url)
    tasks = [
        asyncio.ensure_future(_serve_queue(resources, redis_url, queue, burst=burst))
        for queue in queues
    ]
    if not burst:
        tasks.append(asyncio.ensure_future(_apply_callbacks(resources)))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, lambda: [t.cancel() for t in tasks])
    try:
        await asyncio.gather(*tasks)
    except asyncio.CancelledError:
        pass
    finally:
        await resources.close()


async def _open_resources(settings: Settings, redis_url: str) -> Resources:
    opened: list[Resources] = []

    async def open_once() -> None:
        opened.append(await Resources.open(settings, redis_url))

    await wait_out_outages(open_once, name="worker start-up")
    return opened[0]


async def _serve_queue(resources: Resources, redis_url: str, queue: str, *, burst: bool) -> None:
    """One queue's Worker, built again whenever Redis went away under it; its running jobs
    hold leases it renews."""

    async def run_once() -> None:
        worker = build_worker(resources, redis_url, queue, burst=burst)
        shorten_lease(worker, resources.settings.worker_lease_s)
        leases = asyncio.ensure_future(renew_leases(worker))
        try:
            await worker.async_run()
        finally:
            leases.cancel()
            await _close_quietly(worker)

    await wait_out_outages(run_once, name=queue)


async def _apply_callbacks(resources: Resources) -> None:
    """The provider callbacks the API appended to the stream, applied in bulk as they come
    (each worker process is one consumer of the group; a dead one's entries are claimed)."""
    stream = CallbackStream(resources.redis)
    early = EarlyStatuses(resources.redis)
    consumer = f"{socket.gethostname()}-{os.getpid()}"

    async def apply_forever() -> None:
        while True:
            try:
                await stream.apply_batch(resources.factory, early, consumer, block_ms=1000)
            except Exception as exc:
                if is_outage(exc):
                    raise
                log.exception("callbacks: a batch failed; its entries are claimed again later")
                await asyncio.sleep(1)

    await wait_out_outages(apply_forever, name="callbacks")


async def _close_quietly(worker: Worker) -> None:
    """Closing a Worker whose Redis is gone fails too: its jobs were cancelled and run again."""
    try:
        await worker.close()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
    except Exception as exc:
        log.info("%s: closed without Redis (%s)", worker.queue_name, exc)

"""Leases on running jobs, so that a killed worker's jobs run again within seconds.

arq runs a job again once its in-progress key has expired, and sets that key for the Worker's
longest job timeout + 10 s: five minutes of nothing sent after a worker is killed with -9 (RULES
D3). Here the key lives for a short lease instead, and a live Worker renews the keys of the jobs
it runs every third of it: a long job keeps its key, a killed worker's keys expire within the
lease and another worker takes its jobs over.
"""

from __future__ import annotations

import asyncio
import logging

from arq.constants import in_progress_key_prefix
from arq.worker import Worker

from broadcast.core.outages import is_outage

log = logging.getLogger(__name__)


def shorten_lease(worker: Worker, lease_s: float) -> None:
    """Jobs' in-progress keys live ``lease_s`` (when shorter than arq's own), renewed while
    they run by :func:`renew_leases`."""
    worker.in_progress_timeout_s = min(worker.in_progress_timeout_s, lease_s)


async def renew_leases(worker: Worker) -> None:
    """Until cancelled: every third of the lease, push back the expiry of the in-progress keys
    of the jobs ``worker`` is running. Redis away: tried again at the next beat."""
    lease_ms = int(worker.in_progress_timeout_s * 1000)
    while True:
        await asyncio.sleep(worker.in_progress_timeout_s / 3)
        running = [job_id for job_id, task in list(worker.tasks.items()) if not task.done()]
        if not running:
            continue
        try:
            async with worker.pool.pipeline(transaction=False) as pipe:
                for job_id in running:
                    pipe.pexpire(in_progress_key_prefix + job_id, lease_ms)
                await pipe.execute()
        except Exception as exc:
            if not is_outage(exc):
                raise
            log.warning(
                "%s: leases of %d jobs not renewed (%s)", worker.queue_name, len(running), exc
            )

"""What a broadcast's new status asks for once its transaction commits.

``queued``: its fan-out. ``pending_approval``: the approvers' email. ``scheduled``: nothing, the
scheduler's cron queues it when it is due (:mod:`broadcast.broadcasts.scheduling`), and that is
``queued`` again. Resumed after a pause: the dispatch batches the pause stopped, then a fan-out
that plans the rest and hands out what was planned but not dispatched, under job ids tagged by
the resume, since arq drops a job id it still remembers (RULES D2).

The services that set a status call these beside it; the unit of work enqueues the jobs once the
transaction commits, and nothing if it rolls back (:mod:`broadcast.core.uow`).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from broadcast.broadcasts.models import Broadcast, BroadcastStatus
from broadcast.core.sqlutil import row_id
from broadcast.core.uow import Job, enqueue_after_commit
from broadcast.jobs import DispatchBatch, approval_request_job, dispatch_job, fanout_job


def jobs_for_status(broadcast_id: int, priority: str, status: str) -> list[Job]:
    if status == BroadcastStatus.queued:
        return [fanout_job(broadcast_id, priority)]
    if status == BroadcastStatus.pending_approval:
        return [approval_request_job(broadcast_id, priority)]
    return []


def follow_status(session: AsyncSession, broadcast: Broadcast) -> None:
    """Ask for what ``broadcast``'s status, just set, triggers."""
    jobs = jobs_for_status(row_id(broadcast), broadcast.priority, broadcast.status)
    enqueue_after_commit(session, *jobs)


def follow_resume(
    session: AsyncSession, broadcast: Broadcast, stopped: Sequence[DispatchBatch], tag: str
) -> None:
    """Ask for the batches the pause stopped, then the fan-out, each job id tagged ``tag``."""
    priority = broadcast.priority
    jobs = [dispatch_job(batch, priority, resumed=tag) for batch in stopped]
    enqueue_after_commit(session, *jobs, fanout_job(row_id(broadcast), priority, resumed=tag))

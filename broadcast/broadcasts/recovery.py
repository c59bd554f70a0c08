"""Recovery of work whose job was lost (Redis restarted, a job that failed past arq's tries).

Every minute a cron job looks for active broadcasts that made no progress for longer than any
live job could take, and enqueues their fan-out and their open deliveries again under job ids
of their own. That is always safe: planning is idempotent (RULES D1) and a delivery is claimed
only while queued or when its claim is stale, so a live job is never doubled.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.broadcasts.models import Broadcast
from broadcast.broadcasts.planner import ACTIVE, group_into_batches
from broadcast.core.db import SessionFactory, transaction
from broadcast.core.sqlutil import row_id
from broadcast.core.timeutil import as_utc, utcnow
from broadcast.core.uow import Enqueuer, Job, enqueue_after_commit
from broadcast.deliveries.models import OPEN_STATUSES, Delivery
from broadcast.jobs import dispatch_job, fanout_job

RESUME_LIMIT = 50_000  # per broadcast and pass; the next pass takes the rest


async def resume_stalled(
    factory: SessionFactory, queue: Enqueuer, *, batch_size: int, stalled_after_s: float
) -> int:
    """Enqueue again what stalled; returns how many jobs were enqueued."""
    now = utcnow()
    cutoff = now - timedelta(seconds=stalled_after_s)
    tag = now.strftime("%Y%m%d%H%M%S")
    jobs: list[Job] = []
    async with transaction(factory, queue) as session:
        active = (
            (await session.execute(select(Broadcast).where(col(Broadcast.status).in_(ACTIVE))))
            .scalars()
            .all()
        )
        for broadcast in active:
            if await _stalled_fanout(session, broadcast, cutoff):
                jobs.append(fanout_job(row_id(broadcast), broadcast.priority, resumed=tag))
            stale_rows = await _stale_open(session, broadcast, cutoff)
            batches = group_into_batches(row_id(broadcast), stale_rows, batch_size)
            jobs.extend(dispatch_job(batch, broadcast.priority, resumed=tag) for batch in batches)
        enqueue_after_commit(session, *jobs)
    return len(jobs)


async def _stalled_fanout(session: AsyncSession, broadcast: Broadcast, cutoff: datetime) -> bool:
    if broadcast.fanout_done:
        return False
    latest = await session.scalar(
        select(func.max(col(Delivery.created_at))).where(col(Delivery.broadcast_id) == broadcast.id)
    )
    last_progress = latest or broadcast.queued_at or broadcast.created_at
    return as_utc(last_progress) < cutoff


async def _stale_open(
    session: AsyncSession, broadcast: Broadcast, cutoff: datetime
) -> list[tuple[int, str]]:
    rows = await session.execute(
        select(col(Delivery.id), col(Delivery.channel))
        .where(
            col(Delivery.broadcast_id) == broadcast.id,
            col(Delivery.status).in_(OPEN_STATUSES),
            col(Delivery.updated_at) < cutoff,
        )
        .order_by(col(Delivery.id))
        .limit(RESUME_LIMIT)
    )
    return [(int(delivery_id or 0), str(channel)) for delivery_id, channel in rows.all()]

"""Scheduled broadcasts: times read in Europe/Paris, and the cron pass that starts the due ones.

Operators write local times: a naive ``scheduled_at`` is Europe/Paris (zoneinfo, so summer time
is right), an aware one is taken as given; both are stored in UTC.

Every worker process runs the pass (arq's cron already skips a tick another worker took, but
that is only a Redis key): each due broadcast is claimed by one conditional
``UPDATE ... SET status='queued' WHERE id=... AND status='scheduled' AND scheduled_at <= now``
committed on its own, and only the worker whose update changed a row enqueues the fan-out (under
the job id derived from the broadcast id). A worker that dies between the commit and the enqueue
leaves a queued broadcast without a job, which the recovery pass re-enqueues.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AfterValidator
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.accounts.service import audit
from broadcast.broadcasts.models import Broadcast, BroadcastStatus
from broadcast.broadcasts.transitions import follow_status
from broadcast.core.db import SessionFactory, transaction
from broadcast.core.timeutil import utcnow
from broadcast.core.uow import Enqueuer
from broadcast.core.validation import Moment
from broadcast.webhooks.events import emit_broadcast_event
from broadcast.webhooks.models import WebhookEvent

log = logging.getLogger(__name__)

PARIS = ZoneInfo("Europe/Paris")
MAX_SCHEDULE_AHEAD = timedelta(days=366)
DUE_BATCH = 100
"""Broadcasts started per pass at most; the next pass, seconds later, takes the rest."""


def paris_to_utc(value: datetime) -> datetime:
    """A naive time is Europe/Paris wall-clock time; any time comes back in UTC."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=PARIS)
    return aware.astimezone(UTC)


def _in_the_future(value: datetime) -> datetime:
    if value <= utcnow():
        raise ValueError("l'heure programmée doit être à venir (heure de Paris si sans fuseau)")
    return value


def _within_a_year(value: datetime) -> datetime:
    if value > utcnow() + MAX_SCHEDULE_AHEAD:
        raise ValueError("l'heure programmée ne peut pas dépasser un an à l'avance")
    return value


ScheduledAt = Annotated[
    Moment,
    AfterValidator(paris_to_utc),
    AfterValidator(_in_the_future),
    AfterValidator(_within_a_year),
]
"""``scheduled_at`` as an input: naive means Europe/Paris; stored in UTC; must be ahead, by a
year at most."""


async def queue_due_broadcasts(
    factory: SessionFactory, queue: Enqueuer, now: datetime | None = None
) -> list[int]:
    """Start the scheduled broadcasts whose time has come; returns the ids this caller started."""
    now = now or utcnow()
    started = []
    for broadcast_id, _priority in await due_broadcasts(factory, now):
        if await claim_due(factory, broadcast_id, now, queue):
            started.append(broadcast_id)
    if started:
        log.info("scheduler: started broadcasts %s", started)
    return started


async def due_broadcasts(factory: SessionFactory, now: datetime) -> list[tuple[int, str]]:
    async with transaction(factory) as session:
        rows = await session.execute(
            select(col(Broadcast.id), col(Broadcast.priority))
            .where(
                col(Broadcast.status) == BroadcastStatus.scheduled,
                col(Broadcast.scheduled_at) <= now,
            )
            .order_by(col(Broadcast.scheduled_at), col(Broadcast.id))
            .limit(DUE_BATCH)
        )
        return [(int(row[0] or 0), str(row[1])) for row in rows.all()]


async def claim_due(
    factory: SessionFactory, broadcast_id: int, now: datetime, queue: Enqueuer | None = None
) -> bool:
    """Move one due broadcast from ``scheduled`` to ``queued``: True for the one caller whose
    conditional update changed the row, False for every other (and for one changed meanwhile).
    Its fan-out and the ``broadcast.queued`` webhooks go to ``queue`` once that commits."""
    async with transaction(factory, queue) as session:
        return await _claim(session, broadcast_id, now)


async def _claim(session: AsyncSession, broadcast_id: int, now: datetime) -> bool:
    result = await session.execute(
        update(Broadcast)
        .where(
            col(Broadcast.id) == broadcast_id,
            col(Broadcast.status) == BroadcastStatus.scheduled,
            col(Broadcast.scheduled_at) <= now,
        )
        .values(status=BroadcastStatus.queued, queued_at=now)
        .execution_options(synchronize_session=False)
    )
    if not getattr(result, "rowcount", 0):
        return False
    broadcast = await session.get(Broadcast, broadcast_id)
    assert broadcast is not None
    audit(
        session,
        None,
        "broadcast.scheduled_start",
        organisation_id=broadcast.organisation_id,
        object_type="broadcast",
        object_id=broadcast_id,
        details={"at": now.isoformat()},
    )
    follow_status(session, broadcast)
    await emit_broadcast_event(session, WebhookEvent.broadcast_queued, broadcast)
    return True

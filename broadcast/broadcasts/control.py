"""Control of a broadcast in flight: pause and resume. Services never commit.

Pausing only changes the broadcast's status: the fan-out checks it before each chunk and every
dispatch job before each group (the claim re-reads it), so nothing new starts; deliveries already
``sending`` finish, the others stay ``queued`` and their jobs end. Resuming asks, for after the
commit, for what those jobs left (open deliveries already handed to dispatch) and a fan-out job
that plans the rest and hands out what was planned but not yet dispatched
(:func:`broadcast.broadcasts.transitions.follow_resume`).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.accounts.service import Principal, audit
from broadcast.broadcasts.models import Broadcast, BroadcastStatus, status_fr
from broadcast.broadcasts.planner import ENQUEUE_PAGE, group_into_batches
from broadcast.broadcasts.service import counters, totals
from broadcast.broadcasts.transitions import follow_resume
from broadcast.core.errors import Conflict
from broadcast.core.sqlutil import row_id
from broadcast.core.timeutil import utcnow
from broadcast.deliveries.models import OPEN_STATUSES, Delivery
from broadcast.jobs import DispatchBatch

PAUSABLE = (BroadcastStatus.queued, BroadcastStatus.sending)


async def pause(session: AsyncSession, principal: Principal, broadcast: Broadcast) -> Broadcast:
    if broadcast.status not in PAUSABLE:
        raise Conflict(
            f"Cette diffusion est {status_fr(broadcast.status)} : seule une diffusion en file "
            "ou en cours d'envoi peut être suspendue.",
            f"This broadcast is {broadcast.status}: only a queued or sending one can be paused.",
        )
    broadcast.status = BroadcastStatus.paused
    broadcast.paused_at = utcnow()
    await _audit(session, principal, broadcast, "broadcast.pause")
    return broadcast


async def resume(
    session: AsyncSession, principal: Principal, broadcast: Broadcast, batch_size: int
) -> Broadcast:
    """Back to sending; what the pause stopped is enqueued again after commit."""
    if broadcast.status != BroadcastStatus.paused:
        raise Conflict(
            f"Cette diffusion est {status_fr(broadcast.status)} : seule une diffusion suspendue "
            "peut reprendre.",
            f"This broadcast is {broadcast.status}: only a paused one can be resumed.",
        )
    started = broadcast.fanout_done or broadcast.fanout_cursor > 0
    broadcast.status = BroadcastStatus.sending if started else BroadcastStatus.queued
    paused_at, broadcast.paused_at = broadcast.paused_at, None
    await _audit(session, principal, broadcast, "broadcast.resume")
    tag = (paused_at or utcnow()).strftime("%Y%m%d%H%M%S%f")
    stopped = await _stopped_batches(session, broadcast, batch_size)
    follow_resume(session, broadcast, stopped, f"pause-{tag}")
    return broadcast


async def _stopped_batches(
    session: AsyncSession, broadcast: Broadcast, batch_size: int
) -> list[DispatchBatch]:
    """Batches of the open deliveries already handed to dispatch jobs, which ended at the
    pause; those past ``dispatch_cursor`` are handed out by the fan-out job."""
    batches: list[DispatchBatch] = []
    after = 0
    while True:
        rows = await _open_dispatched(session, broadcast, after)
        if not rows:
            return batches
        batches.extend(group_into_batches(row_id(broadcast), rows, batch_size))
        after = rows[-1][0]


async def _open_dispatched(
    session: AsyncSession, broadcast: Broadcast, after: int
) -> list[tuple[int, str]]:
    rows = await session.execute(
        select(col(Delivery.id), col(Delivery.channel))
        .where(
            col(Delivery.broadcast_id) == broadcast.id,
            col(Delivery.id) > after,
            col(Delivery.id) <= broadcast.dispatch_cursor,
            col(Delivery.status).in_(OPEN_STATUSES),
        )
        .order_by(col(Delivery.id))
        .limit(ENQUEUE_PAGE)
    )
    return [(int(delivery_id or 0), str(channel)) for delivery_id, channel in rows.all()]


async def _audit(
    session: AsyncSession, principal: Principal, broadcast: Broadcast, action: str
) -> None:
    """With the deliveries per status at that moment: what was sent before the pause."""
    audit(
        session,
        principal,
        action,
        organisation_id=broadcast.organisation_id,
        object_type="broadcast",
        object_id=broadcast.id,
        details={"totals": totals(await counters(session, row_id(broadcast)))},
    )

"""Writes to the delivery ledger: claim before sending, record results in bulk, complete.

Statuses only move forward for provider news (RULES D5); the one way back is a transient
failure, which returns a delivery from ``sending`` to ``queued`` for the next try.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.accounts.service import audit
from broadcast.broadcasts.models import Broadcast, BroadcastStatus
from broadcast.channels.base import Outcome, SendResult
from broadcast.core.timeutil import utcnow
from broadcast.core.uow import enqueue_after_commit
from broadcast.deliveries.models import OPEN_STATUSES, Delivery, DeliveryStatus
from broadcast.directory.reachability import record_reached, retire_addresses
from broadcast.jobs import DispatchBatch, operator_alert_job
from broadcast.webhooks.events import emit_broadcast_event
from broadcast.webhooks.models import WebhookEvent

_table = Delivery.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True, order=True)
class PendingDelivery:
    id: int
    address: str
    locale: str


async def claim(
    session: AsyncSession, broadcast_id: int, ids: Sequence[int], stale_before: datetime
) -> list[PendingDelivery]:
    """Mark deliveries ``sending`` before the provider is called (D5); returns those claimed.

    A ``queued`` delivery is claimed; a ``sending`` one only when its claim is older than
    ``stale_before``, i.e. the job that claimed it is dead (killed or timed out), so two live
    jobs never send the same delivery. Nothing is claimed once the broadcast is cancelled."""
    if not ids:
        return []
    active = (
        select(col(Broadcast.id))
        .where(
            col(Broadcast.id) == broadcast_id,
            col(Broadcast.status) == BroadcastStatus.sending,
        )
        .exists()
    )
    result = await session.execute(
        update(_table)
        .where(
            _table.c.id.in_(ids),
            or_(
                _table.c.status == DeliveryStatus.queued,
                and_(_table.c.status == DeliveryStatus.sending, _table.c.updated_at < stale_before),
            ),
            active,
        )
        .values(status=DeliveryStatus.sending, attempts=_table.c.attempts + 1, updated_at=utcnow())
        .returning(_table.c.id, _table.c.address, _table.c.locale)
    )
    return sorted(PendingDelivery(*row) for row in result.all())


_RECORD = (
    update(_table)
    .where(_table.c.id == bindparam("delivery_id"), _table.c.status == DeliveryStatus.sending)
    .values(
        status=bindparam("new_status"),
        provider_message_id=bindparam("message_id"),
        provider_account=bindparam("account"),
        error=bindparam("error_text"),
        updated_at=bindparam("now"),
    )
)


def _new_status(result: SendResult, past_deadline: bool) -> DeliveryStatus:
    if result.outcome == Outcome.sent:
        return DeliveryStatus.sent
    if result.outcome == Outcome.transient and not past_deadline:
        return DeliveryStatus.queued
    return DeliveryStatus.failed


async def renew_claims(session: AsyncSession, ids: Sequence[int]) -> None:
    """Keep the claims of a group still being sent from looking stale (a slow provider)."""
    await session.execute(
        update(_table)
        .where(_table.c.id.in_(ids), _table.c.status == DeliveryStatus.sending)
        .values(updated_at=utcnow())
    )


async def record_results(
    session: AsyncSession,
    channel: str,
    results: Sequence[SendResult],
    addresses: dict[int, str],
    *,
    past_deadline: bool,
) -> None:
    """Write every result in one statement, tell the directory which addresses are dead or
    alive, and record the operator's alerts."""
    if not results:
        return
    now = utcnow()
    params = [
        {
            "delivery_id": r.delivery_id,
            "new_status": _new_status(r, past_deadline).value,
            "message_id": r.provider_message_id,
            "account": r.account,
            "error_text": (r.error or "")[:200] or None,
            "now": now,
        }
        for r in results
    ]
    await session.execute(_RECORD, params)
    await retire_addresses(
        session, channel, [addresses[r.delivery_id] for r in results if r.suppress]
    )
    sent = [addresses[r.delivery_id] for r in results if r.outcome == Outcome.sent]
    await record_reached(session, channel, sent)
    for result in results:
        if result.alert is not None:
            event = audit(session, None, result.alert.action, details=dict(result.alert.details))
            await session.flush()
            enqueue_after_commit(session, operator_alert_job(event.id or 0))


async def fail_open(session: AsyncSession, batch: DispatchBatch, error: str) -> int:
    """Fail every open delivery of ``batch`` at once: used when it can never be sent."""
    result = await session.execute(
        update(_table)
        .where(
            _table.c.broadcast_id == batch.broadcast_id,
            _table.c.channel == batch.channel,
            _table.c.id.between(batch.first_id, batch.last_id),
            _table.c.status.in_(OPEN_STATUSES),
        )
        .values(status=DeliveryStatus.failed, error=error[:200], updated_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def count_open(session: AsyncSession, batch: DispatchBatch) -> int:
    """Deliveries of the batch still to be sent (queued, or claimed by a job not yet done)."""
    found = await session.scalar(
        select(func.count()).where(
            _table.c.broadcast_id == batch.broadcast_id,
            _table.c.channel == batch.channel,
            _table.c.id.between(batch.first_id, batch.last_id),
            _table.c.status.in_(OPEN_STATUSES),
        )
    )
    return int(found or 0)


async def complete_if_done(session: AsyncSession, broadcast_id: int) -> Broadcast | None:
    """Move a fully planned broadcast with no open delivery to ``completed``, once; the
    broadcast so completed, None when it was not."""
    still_open = (
        select(col(Delivery.id))
        .where(col(Delivery.broadcast_id) == broadcast_id, col(Delivery.status).in_(OPEN_STATUSES))
        .exists()
    )
    result = await session.execute(
        update(Broadcast)
        .where(
            col(Broadcast.id) == broadcast_id,
            col(Broadcast.status) == BroadcastStatus.sending,
            col(Broadcast.fanout_done).is_(True),
            ~still_open,
        )
        .values(status=BroadcastStatus.completed, completed_at=utcnow())
    )
    if not getattr(result, "rowcount", 0):
        return None
    return await _announce_completion(session, broadcast_id)


async def _announce_completion(session: AsyncSession, broadcast_id: int) -> Broadcast | None:
    """``broadcast.completed`` to webhook subscribers; the caller enqueues after commit."""
    broadcast = await session.get(Broadcast, broadcast_id, populate_existing=True)
    if broadcast is not None:
        await emit_broadcast_event(session, WebhookEvent.broadcast_completed, broadcast)
    return broadcast


async def cancel_queued(session: AsyncSession, broadcast_id: int) -> int:
    """Cancel the deliveries of ``broadcast_id`` not yet handed to a provider; those being sent
    (``sending``) finish. Returns how many were cancelled."""
    result = await session.execute(
        update(_table)
        .where(_table.c.broadcast_id == broadcast_id, _table.c.status == DeliveryStatus.queued)
        .values(status=DeliveryStatus.cancelled, updated_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)

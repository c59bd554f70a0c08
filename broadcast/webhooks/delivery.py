"""Sending one stored webhook message and recording what happened (RULES W1, W2, D3).

A job calls :func:`deliver_message` with a message row id. The message is claimed first (its
``next_attempt_at`` pushed past the send's timeout, ``attempts`` counted) in a transaction of its
own, so two jobs never send the same due attempt; then it is signed and sent through the worker's
one :class:`WebhookSender`, and the outcome is recorded:

* delivered: final;
* retry (5xx, 429, timeout, network): pending again, due after the next delay of the schedule
  (jittered, ``Retry-After`` honoured); once the schedule is exhausted (about a day), failed;
* 410 Gone: the endpoint is disabled and every pending message of it fails;
* other refusals (4xx, redirect, unsafe URL): failed.

The caller re-runs the job after the returned delay. A message found pending past its due time
(a lost job, a crashed worker, or a retry later than the day arq keeps a job's data, which a long
``Retry-After`` can ask for) is picked up by :func:`due_message_ids` in the recovery sweep.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.core.db import SessionFactory, transaction
from broadcast.core.timeutil import as_utc, utcnow
from broadcast.core.uow import enqueue_after_commit
from broadcast.jobs import webhook_job
from broadcast.webhooks.models import WebhookEndpoint, WebhookMessage, WebhookMessageStatus
from broadcast.webhooks.sender import DeliveryAttempt, WebhookSender, next_delay

log = logging.getLogger(__name__)

CLAIM_MARGIN_S = 30.0
ENDPOINT_NOTE_EVERY = timedelta(minutes=1)
MESSAGE_RETENTION = timedelta(days=30)
"""Delivered and failed messages are kept this long for ``GET /webhooks/{id}/messages``."""
DISABLED_ERROR = "Point de terminaison désactivé : message abandonné."
EXHAUSTED_SUFFIX = " Nouveaux essais épuisés."
_table = WebhookMessage.__table__  # type: ignore[attr-defined]
_endpoints = WebhookEndpoint.__table__  # type: ignore[attr-defined]
_CLAIMED_COLUMNS = (
    _table.c.message_id,
    _table.c.event_type,
    _table.c.payload,
    _table.c.created_at,
    _table.c.attempts,
    _table.c.endpoint_id,
)


@dataclass(frozen=True, slots=True)
class Claimed:
    """What a send needs, read in the claim's transaction."""

    message_id: str
    event_type: str
    payload: dict[str, Any]
    created_at: datetime
    attempts: int
    endpoint_id: int
    url: str
    secret: str


@dataclass(frozen=True, slots=True)
class NotDue:
    """The message is pending but another attempt holds it, or it is due later."""

    delay_s: float


async def deliver_message(
    factory: SessionFactory,
    sender: WebhookSender,
    message_row_id: int,
    delays: Sequence[float],
) -> float | None:
    """Send the message if it is due; returns seconds until it must run again, or None when
    there is nothing more to do (delivered, failed, gone)."""
    async with transaction(factory) as session:
        claimed = await claim(session, message_row_id, sender.timeout_s + CLAIM_MARGIN_S)
    if claimed is None:
        return None
    if isinstance(claimed, NotDue):
        return claimed.delay_s
    attempt = await sender.deliver(
        claimed.url,
        claimed.secret,
        claimed.event_type,
        claimed.payload,
        claimed.message_id,
        claimed.created_at,
    )
    async with transaction(factory) as session:
        return await record_attempt(session, message_row_id, claimed, attempt, delays)


async def claim(
    session: AsyncSession, message_row_id: int, lease_s: float
) -> Claimed | NotDue | None:
    """Take the due attempt of a pending message; None when it is final or its endpoint is gone
    or disabled (the message then fails)."""
    now = utcnow()
    taken = (
        await session.execute(
            update(_table)
            .where(_table.c.id == message_row_id, _is_pending(), _is_due(now))
            .values(
                attempts=_table.c.attempts + 1, next_attempt_at=now + timedelta(seconds=lease_s)
            )
            .returning(*_CLAIMED_COLUMNS)
        )
    ).first()
    if taken is None:
        return await _not_due(session, message_row_id, now)
    endpoint = (
        await session.execute(
            select(_endpoints.c.url, _endpoints.c.secret, _endpoints.c.enabled).where(
                _endpoints.c.id == taken.endpoint_id
            )
        )
    ).first()
    if endpoint is None or not endpoint.enabled:
        await _write(session, message_row_id, _failed(DISABLED_ERROR))
        return None
    return Claimed(**taken._asdict(), url=endpoint.url, secret=endpoint.secret)


async def _not_due(session: AsyncSession, message_row_id: int, now: datetime) -> NotDue | None:
    row = (
        await session.execute(
            select(_table.c.status, _table.c.next_attempt_at).where(_table.c.id == message_row_id)
        )
    ).first()
    if row is None or row.status != WebhookMessageStatus.pending:
        return None
    return NotDue(_seconds_until(row.next_attempt_at, now))


async def record_attempt(
    session: AsyncSession,
    message_row_id: int,
    claimed: Claimed,
    attempt: DeliveryAttempt,
    delays: Sequence[float],
) -> float | None:
    """Write the outcome of one attempt; returns the delay before the next one, if any."""
    delay = (
        next_delay(claimed.attempts, attempt.retry_after_s, delays=delays)
        if attempt.should_retry
        else None
    )
    if not await _write(session, message_row_id, _outcome(attempt, delay)):
        return None  # made final meanwhile (its endpoint was disabled)
    await _note_on_endpoint(session, claimed.endpoint_id, attempt.delivered)
    if attempt.disable:
        await disable_endpoint(session, claimed.endpoint_id, attempt.error or DISABLED_ERROR)
    return delay


def _outcome(attempt: DeliveryAttempt, delay: float | None) -> dict[str, Any]:
    """The message's new columns after ``attempt``: delivered, due again after ``delay``, or
    failed."""
    now = utcnow()
    answer = {"last_status_code": attempt.status_code, "last_error": _clipped(attempt.error)}
    if attempt.delivered:
        status = WebhookMessageStatus.delivered
        return answer | {"status": status, "delivered_at": now, "next_attempt_at": None}
    if delay is not None:
        return answer | {"next_attempt_at": now + timedelta(seconds=delay)}
    suffix = EXHAUSTED_SUFFIX if attempt.should_retry else ""
    return answer | _failed((attempt.error or "") + suffix)


def _failed(error: str) -> dict[str, Any]:
    return {
        "status": WebhookMessageStatus.failed,
        "next_attempt_at": None,
        "last_error": _clipped(error),
    }


async def _write(session: AsyncSession, message_row_id: int, values: dict[str, Any]) -> bool:
    """Update a message still pending; False when it no longer is."""
    result = await session.execute(
        update(_table).where(_table.c.id == message_row_id, _is_pending()).values(**values)
    )
    return bool(getattr(result, "rowcount", 0))


async def disable_endpoint(session: AsyncSession, endpoint_id: int, reason: str) -> None:
    """Stop writing to an endpoint (410 Gone): it is disabled and its pending messages fail."""
    await session.execute(
        update(_endpoints)
        .where(_endpoints.c.id == endpoint_id)
        .values(enabled=False, disabled_at=utcnow(), disabled_reason=reason[:200])
    )
    await session.execute(
        update(_table)
        .where(_table.c.endpoint_id == endpoint_id, _is_pending())
        .values(**_failed(DISABLED_ERROR))
    )
    log.warning("webhook endpoint %s disabled: %s", endpoint_id, reason)


async def due_message_ids(session: AsyncSession, before: datetime, limit: int = 1000) -> list[int]:
    """Pending messages whose attempt was due before ``before``: their job was lost."""
    rows = await session.execute(
        select(col(WebhookMessage.id))
        .where(
            col(WebhookMessage.status) == WebhookMessageStatus.pending,
            col(WebhookMessage.next_attempt_at) < before,
        )
        .order_by(col(WebhookMessage.id))
        .limit(limit)
    )
    return [int(row_id) for row_id in rows.scalars().all() if row_id is not None]


async def requeue_lost_messages(session: AsyncSession, before: datetime) -> list[int]:
    """Ask again, after commit, for the delivery jobs of the messages :func:`due_message_ids`
    finds; the job id is the message's, so one still queued is not queued twice."""
    lost = await due_message_ids(session, before)
    enqueue_after_commit(session, *(webhook_job(message_id) for message_id in lost))
    return lost


async def purge_final_messages(session: AsyncSession, now: datetime) -> int:
    """Forget delivered and failed messages older than :data:`MESSAGE_RETENTION`."""
    result = await session.execute(
        delete(_table).where(
            _table.c.status.in_([WebhookMessageStatus.delivered, WebhookMessageStatus.failed]),
            _table.c.created_at < now - MESSAGE_RETENTION,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def _note_on_endpoint(session: AsyncSession, endpoint_id: int, delivered: bool) -> None:
    """Record the last success or failure, to the minute: writing the endpoint's row on every
    message would make concurrent deliveries to one endpoint wait for each other's lock."""
    column = _endpoints.c.last_success_at if delivered else _endpoints.c.last_failure_at
    now = utcnow()
    await session.execute(
        update(_endpoints)
        .where(
            _endpoints.c.id == endpoint_id,
            or_(column.is_(None), column < now - ENDPOINT_NOTE_EVERY),
        )
        .values({column.name: now})
    )


def _is_pending() -> ColumnElement[bool]:
    pending: ColumnElement[bool] = _table.c.status == WebhookMessageStatus.pending
    return pending


def _is_due(now: datetime) -> ColumnElement[bool]:
    return or_(_table.c.next_attempt_at.is_(None), _table.c.next_attempt_at <= now)


def _clipped(error: str | None) -> str | None:
    return (error or "")[:200] or None


def _seconds_until(when: datetime | None, now: datetime) -> float:
    if when is None:
        return 0.0
    return max(0.0, (as_utc(when) - now).total_seconds())

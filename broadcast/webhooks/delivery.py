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

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.db import SessionFactory, transaction
from broadcast.timeutil import as_utc, utcnow
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
    taken = await session.execute(
        update(_table)
        .where(
            _table.c.id == message_row_id,
            _table.c.status == WebhookMessageStatus.pending,
            or_(_table.c.next_attempt_at.is_(None), _table.c.next_attempt_at <= now),
        )
        .values(attempts=_table.c.attempts + 1, next_attempt_at=now + timedelta(seconds=lease_s))
    )
    message = await session.get(WebhookMessage, message_row_id, populate_existing=True)
    if message is None or message.status != WebhookMessageStatus.pending:
        return None
    if not getattr(taken, "rowcount", 0):
        return NotDue(_seconds_until(message.next_attempt_at, now))
    endpoint = await session.get(WebhookEndpoint, message.endpoint_id)
    if endpoint is None or not endpoint.enabled:
        _finish(message, WebhookMessageStatus.failed, error=DISABLED_ERROR)
        return None
    return Claimed(
        message_id=message.message_id,
        event_type=message.event_type,
        payload=dict(message.payload),
        created_at=message.created_at,
        attempts=message.attempts,
        endpoint_id=endpoint.id or 0,
        url=endpoint.url,
        secret=endpoint.secret,
    )


async def record_attempt(
    session: AsyncSession,
    message_row_id: int,
    claimed: Claimed,
    attempt: DeliveryAttempt,
    delays: Sequence[float],
) -> float | None:
    """Write the outcome of one attempt; returns the delay before the next one, if any."""
    message = await session.get(WebhookMessage, message_row_id, populate_existing=True)
    endpoint = await session.get(WebhookEndpoint, claimed.endpoint_id, populate_existing=True)
    if message is None or message.status != WebhookMessageStatus.pending:
        return None
    message.last_status_code = attempt.status_code
    message.last_error = (attempt.error or "")[:200] or None
    _note_on_endpoint(endpoint, attempt)
    if attempt.delivered:
        _finish(message, WebhookMessageStatus.delivered)
        return None
    if attempt.disable:
        await disable_endpoint(session, endpoint, attempt.error or DISABLED_ERROR)
        _finish(message, WebhookMessageStatus.failed, error=attempt.error)
        return None
    delay = (
        next_delay(claimed.attempts, attempt.retry_after_s, delays=delays)
        if attempt.should_retry
        else None
    )
    if delay is None:
        suffix = EXHAUSTED_SUFFIX if attempt.should_retry else ""
        _finish(message, WebhookMessageStatus.failed, error=(attempt.error or "") + suffix)
        return None
    message.next_attempt_at = utcnow() + timedelta(seconds=delay)
    return delay


async def disable_endpoint(
    session: AsyncSession, endpoint: WebhookEndpoint | None, reason: str
) -> None:
    """Stop writing to an endpoint (410 Gone): it is disabled and its pending messages fail."""
    if endpoint is None:
        return
    now = utcnow()
    endpoint.enabled = False
    endpoint.disabled_at = now
    endpoint.disabled_reason = reason[:200]
    await session.execute(
        update(_table)
        .where(
            _table.c.endpoint_id == endpoint.id,
            _table.c.status == WebhookMessageStatus.pending,
        )
        .values(status=WebhookMessageStatus.failed, last_error=DISABLED_ERROR, next_attempt_at=None)
    )
    log.warning("webhook endpoint %s disabled: %s", endpoint.id, reason)


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


async def purge_final_messages(session: AsyncSession, now: datetime) -> int:
    """Forget delivered and failed messages older than :data:`MESSAGE_RETENTION`."""
    result = await session.execute(
        delete(_table).where(
            _table.c.status.in_([WebhookMessageStatus.delivered, WebhookMessageStatus.failed]),
            _table.c.created_at < now - MESSAGE_RETENTION,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _finish(
    message: WebhookMessage, status: WebhookMessageStatus, *, error: str | None = None
) -> None:
    message.status = status
    message.next_attempt_at = None
    if status is WebhookMessageStatus.delivered:
        message.delivered_at = utcnow()
    if error is not None:
        message.last_error = error[:200]


def _note_on_endpoint(endpoint: WebhookEndpoint | None, attempt: DeliveryAttempt) -> None:
    """Record the last success or failure, to the minute: writing the endpoint's row on every
    message would make concurrent deliveries to one endpoint wait for each other's lock."""
    if endpoint is None:
        return
    now = utcnow()
    if attempt.delivered and _stale(endpoint.last_success_at, now):
        endpoint.last_success_at = now
    elif not attempt.delivered and _stale(endpoint.last_failure_at, now):
        endpoint.last_failure_at = now


def _stale(when: datetime | None, now: datetime) -> bool:
    return when is None or now - as_utc(when) > ENDPOINT_NOTE_EVERY


def _seconds_until(when: datetime | None, now: datetime) -> float:
    if when is None:
        return 0.0
    return max(0.0, (as_utc(when) - now).total_seconds())

"""Events for webhook subscribers, written in the caller's transaction (an outbox).

:func:`emit_event` inserts one :class:`WebhookMessage` per enabled endpoint subscribed to the
event whose organisation covers the object's organisation (an académie's endpoint receives its
schools' events), and asks for one delivery job per message, which the unit of work enqueues
once the transaction commits (:mod:`broadcast.core.uow`). A message whose enqueue was lost is
found again by the recovery sweep.

The stored payload is the event's ``data``; the sender wraps it as Standard Webhooks
``{"type", "timestamp", "data"}``, dated by the message's ``created_at``.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.broadcasts.models import Broadcast
from broadcast.core.sqlutil import row_id
from broadcast.core.timeutil import utcnow
from broadcast.core.uow import enqueue_after_commit
from broadcast.deliveries.models import Delivery
from broadcast.directory.models import Organisation
from broadcast.jobs import webhook_job
from broadcast.notices.models import Notice, NoticeUpdate
from broadcast.webhooks.models import WebhookEndpoint, WebhookEvent, WebhookMessage

PING_EVENT = "webhook.ping"


async def emit_event(
    session: AsyncSession, event: WebhookEvent, organisation: Organisation, data: dict[str, Any]
) -> list[int]:
    """Queue ``event`` for its subscribers; returns the message row ids to enqueue after commit."""
    endpoints = await subscribers(session, event, organisation)
    messages = [_message(endpoint, event.value, data) for endpoint in endpoints]
    return await _record(session, messages)


async def emit_ping(session: AsyncSession, endpoint: WebhookEndpoint) -> WebhookMessage:
    """A ``webhook.ping`` for one endpoint, so an operator can see it receive and verify."""
    data = {"endpoint_id": endpoint.id, "message": "Message de test de broadcast."}
    message = _message(endpoint, PING_EVENT, data)
    await _record(session, [message])
    return message


def _message(endpoint: WebhookEndpoint, event_type: str, data: dict[str, Any]) -> WebhookMessage:
    now = utcnow()
    return WebhookMessage(
        endpoint_id=row_id(endpoint),
        message_id=new_message_id(),
        event_type=event_type,
        payload=data,
        next_attempt_at=now,
        created_at=now,
    )


async def _record(session: AsyncSession, messages: list[WebhookMessage]) -> list[int]:
    """Insert the messages; their delivery jobs are enqueued once the transaction commits."""
    session.add_all(messages)
    await session.flush()
    ids = [row_id(message) for message in messages]
    enqueue_after_commit(session, *(webhook_job(message_id) for message_id in ids))
    return ids


def new_message_id() -> str:
    """The ``webhook-id`` header, stable across retries: ``msg_`` and 128 random bits."""
    return "msg_" + secrets.token_urlsafe(16)


def ancestor_paths(path: str) -> list[str]:
    """``/1/4/12/`` -> ``["/1/", "/1/4/", "/1/4/12/"]``: the organisations covering this one."""
    parts = [part for part in path.split("/") if part]
    return ["/" + "/".join(parts[: n + 1]) + "/" for n in range(len(parts))]


async def subscribers(
    session: AsyncSession, event: WebhookEvent, organisation: Organisation
) -> list[WebhookEndpoint]:
    rows = await session.execute(
        select(WebhookEndpoint)
        .join(Organisation, col(Organisation.id) == col(WebhookEndpoint.organisation_id))
        .where(
            col(WebhookEndpoint.enabled).is_(True),
            col(Organisation.path).in_(ancestor_paths(organisation.path)),
        )
        .order_by(col(WebhookEndpoint.id))
    )
    return [endpoint for endpoint in rows.scalars() if event.value in endpoint.events]


async def emit_notice_event(
    session: AsyncSession, event: WebhookEvent, notice: Notice, update: NoticeUpdate
) -> list[int]:
    organisation = await _organisation(session, notice.organisation_id)
    data = {
        "notice": notice_data(notice),
        "update": update_data(update),
        "organisation": organisation_data(organisation),
    }
    return await emit_event(session, event, organisation, data)


async def emit_broadcast_event(
    session: AsyncSession, event: WebhookEvent, broadcast: Broadcast
) -> list[int]:
    """``broadcast.completed`` also carries the deliveries counted per channel and status."""
    organisation = await _organisation(session, broadcast.organisation_id)
    notice = await session.get(Notice, broadcast.notice_id)
    assert notice is not None
    data: dict[str, Any] = {
        "broadcast": broadcast_data(broadcast),
        "notice": {"id": notice.id, "title": notice.title, "status": notice.status},
        "organisation": organisation_data(organisation),
    }
    if event is WebhookEvent.broadcast_completed:
        data["counts"] = await delivery_counts(session, row_id(broadcast))
    if event is WebhookEvent.broadcast_held:
        data["held_reason"] = broadcast.held_reason
    return await emit_event(session, event, organisation, data)


async def delivery_counts(session: AsyncSession, broadcast_id: int) -> dict[str, dict[str, int]]:
    """``{"email": {"sent": 12, "failed": 1}, ...}``: only the statuses that occur."""
    rows = await session.execute(
        select(col(Delivery.channel), col(Delivery.status), func.count())
        .where(col(Delivery.broadcast_id) == broadcast_id)
        .group_by(col(Delivery.channel), col(Delivery.status))
    )
    counts: dict[str, dict[str, int]] = {}
    for channel, status, count in rows.all():
        counts.setdefault(str(channel), {})[str(status)] = int(count)
    return counts


async def _organisation(session: AsyncSession, organisation_id: int) -> Organisation:
    organisation = await session.get(Organisation, organisation_id)
    assert organisation is not None
    return organisation


def notice_data(notice: Notice) -> dict[str, Any]:
    return {
        "id": notice.id,
        "organisation_id": notice.organisation_id,
        "title": notice.title,
        "status": notice.status,
        "public": notice.public,
        "created_at": _iso(notice.created_at),
        "updated_at": _iso(notice.updated_at),
    }


def update_data(update: NoticeUpdate) -> dict[str, Any]:
    return {
        "id": update.id,
        "status": update.status,
        "message": update.message,
        "created_at": _iso(update.created_at),
    }


def organisation_data(organisation: Organisation) -> dict[str, Any]:
    return {
        "id": organisation.id,
        "kind": organisation.kind,
        "code": organisation.code,
        "name": organisation.name,
    }


def broadcast_data(broadcast: Broadcast) -> dict[str, Any]:
    return {
        "id": broadcast.id,
        "notice_id": broadcast.notice_id,
        "update_id": broadcast.update_id,
        "organisation_id": broadcast.organisation_id,
        "channels": list(broadcast.channels),
        "priority": broadcast.priority,
        "is_exercise": broadcast.is_exercise,
        "follow_up_of_id": broadcast.follow_up_of_id,
        "status": broadcast.status,
        "queued_at": _iso(broadcast.queued_at),
        "completed_at": _iso(broadcast.completed_at),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None

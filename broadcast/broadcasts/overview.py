"""What an operator sees first: open incidents, sends in flight with their progress per channel,
sends waiting for his approval, scheduled and recent sends, all within his scope (RULES A1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.accounts.permissions import Permission
from broadcast.accounts.scoped import in_scope, join_organisation
from broadcast.accounts.service import Principal
from broadcast.broadcasts.approval import requesters
from broadcast.broadcasts.live_counts import LiveCounts
from broadcast.broadcasts.models import Broadcast, BroadcastStatus
from broadcast.broadcasts.service import counters
from broadcast.core.timeutil import as_utc, utcnow
from broadcast.deliveries.models import DeliveryStatus
from broadcast.directory.models import Organisation
from broadcast.notices.models import Notice, NoticeStatus

IN_FLIGHT = (BroadcastStatus.queued, BroadcastStatus.sending, BroadcastStatus.paused)
FINISHED = (BroadcastStatus.completed, BroadcastStatus.cancelled, BroadcastStatus.rejected)
_DONE = (DeliveryStatus.sent, DeliveryStatus.delivered, DeliveryStatus.failed)


@dataclass(frozen=True, slots=True)
class ChannelProgress:
    channel: str
    planned: int
    done: int
    failed: int
    per_minute: float | None
    expected_end: datetime | None

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.planned) if self.planned else 0


@dataclass(frozen=True, slots=True)
class SendLine:
    broadcast: Broadcast
    title: str
    organisation: str
    progress: list[ChannelProgress]


@dataclass(frozen=True, slots=True)
class IncidentLine:
    notice: Notice
    organisation: str


@dataclass(frozen=True, slots=True)
class Dashboard:
    incidents: list[IncidentLine]
    in_flight: list[SendLine]
    awaiting_me: list[SendLine]
    scheduled: list[SendLine]
    recent: list[SendLine]


def channel_progress(
    channel: str, statuses: dict[str, int], started: datetime | None, now: datetime
) -> ChannelProgress:
    """Sent so far against planned, the rate since the send started and when it should end."""
    planned = sum(count for status, count in statuses.items() if status != DeliveryStatus.cancelled)
    done = sum(statuses.get(status, 0) for status in _DONE)
    per_minute = expected_end = None
    elapsed = (now - as_utc(started)).total_seconds() if started else 0.0
    if done and elapsed > 1:
        per_minute = done / elapsed * 60
        if planned > done:
            expected_end = now + timedelta(minutes=(planned - done) / per_minute)
    failed = statuses.get(DeliveryStatus.failed, 0)
    return ChannelProgress(channel, planned, done, failed, per_minute, expected_end)


async def progress_of(
    session: AsyncSession, broadcast: Broadcast, live: LiveCounts | None = None
) -> list[ChannelProgress]:
    """Progress per channel, counted now, or at most a second ago through ``live`` (what a
    polled page asks for) while the send is not finished: a finished send's figures are the
    last a page shows (it stops asking), so they are counted now."""
    assert broadcast.id is not None
    if live is None or broadcast.status in FINISHED:
        by_channel = await counters(session, broadcast.id)
    else:
        by_channel = await live.counters(session, broadcast.id)
    return progress_from(broadcast, by_channel)


def progress_from(
    broadcast: Broadcast, by_channel: dict[str, dict[str, int]]
) -> list[ChannelProgress]:
    now = utcnow()
    return [
        channel_progress(channel, by_channel.get(channel, {}), broadcast.queued_at, now)
        for channel in broadcast.channels
    ]


async def _sends(
    session: AsyncSession,
    principal: Principal,
    statuses: tuple[str, ...],
    *,
    newest_first: bool = True,
    limit: int = 10,
) -> list[tuple[Broadcast, str, str]]:
    query = (
        join_organisation(
            select(Broadcast, col(Notice.title), col(Organisation.name)).join(
                Notice, col(Notice.id) == col(Broadcast.notice_id)
            ),
            Broadcast,
        )
        .where(in_scope(principal))
        .where(col(Broadcast.status).in_(statuses))
    )
    order = col(Broadcast.id).desc() if newest_first else col(Broadcast.scheduled_at)
    rows = await session.execute(query.order_by(order).limit(limit))
    return [(broadcast, title, name) for broadcast, title, name in rows.all()]


async def _lines(
    session: AsyncSession, rows: list[tuple[Broadcast, str, str]], *, with_progress: bool
) -> list[SendLine]:
    return [
        SendLine(b, title, name, await progress_of(session, b) if with_progress else [])
        for b, title, name in rows
    ]


async def open_incidents(
    session: AsyncSession, principal: Principal, limit: int = 20
) -> list[IncidentLine]:
    query = (
        join_organisation(select(Notice, col(Organisation.name)), Notice)
        .where(in_scope(principal))
        .where(col(Notice.status) != NoticeStatus.resolved, col(Notice.is_exercise).is_(False))
    )
    rows = await session.execute(query.order_by(col(Notice.updated_at).desc()).limit(limit))
    return [IncidentLine(notice, name) for notice, name in rows.all()]


async def awaiting_approval_by(
    session: AsyncSession, principal: Principal, limit: int = 20
) -> list[tuple[Broadcast, str, str]]:
    """Pending sends this operator may approve: in his scope, not his own request."""
    if not principal.can(Permission.broadcasts_approve):
        return []
    pending = await _sends(session, principal, (BroadcastStatus.pending_approval,), limit=limit)
    return [
        row for row in pending if principal.operator_id not in await requesters(session, row[0])
    ]


async def dashboard(session: AsyncSession, principal: Principal) -> Dashboard:
    in_flight = await _sends(session, principal, IN_FLIGHT)
    scheduled = await _sends(session, principal, (BroadcastStatus.scheduled,), newest_first=False)
    return Dashboard(
        incidents=await open_incidents(session, principal),
        in_flight=await _lines(session, in_flight, with_progress=True),
        awaiting_me=await _lines(
            session, await awaiting_approval_by(session, principal), with_progress=False
        ),
        scheduled=await _lines(session, scheduled, with_progress=False),
        recent=await _lines(
            session, await _sends(session, principal, FINISHED), with_progress=True
        ),
    )


@dataclass(frozen=True, slots=True)
class ApprovalInbox:
    """Sends waiting for approval in the operator's scope: those he may approve, and his own
    requests (another operator approves them)."""

    to_approve: list[SendLine]
    requested_by_me: list[SendLine]


async def approval_inbox(
    session: AsyncSession, principal: Principal, limit: int = 50
) -> ApprovalInbox:
    pending = await _sends(session, principal, (BroadcastStatus.pending_approval,), limit=limit)
    to_approve: list[tuple[Broadcast, str, str]] = []
    mine: list[tuple[Broadcast, str, str]] = []
    for row in pending:
        own = principal.operator_id in await requesters(session, row[0])
        (mine if own else to_approve).append(row)
    return ApprovalInbox(
        await _lines(session, to_approve, with_progress=False),
        await _lines(session, mine, with_progress=False),
    )

"""Monitoring systems that open draft notices (issue 3, RULES W4). Services never commit.

A firing alert opens a draft notice (not public, ``investigating``) in its source's
organisation, once per fingerprint: the same alert repeated only moves ``last_seen_at``. A
resolved alert proposes the "résolu" update; a person confirms it (:func:`confirm_resolution`).
Nothing reaches anyone without a person, except where the operator set ``auto_send_channels``
on the source: then a newly opened notice is also sent at once, to staff only (teachers, staff
and heads of the source's organisation), on behalf of the operator who set that rule.
"""

from __future__ import annotations

import enum
import hmac
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.accounts.models import Operator
from broadcast.accounts.permissions import Permission
from broadcast.accounts.scoped import (
    get_within_scope,
    in_scope,
    join_organisation,
    organisation_within_scope,
    select_within_scope,
)
from broadcast.accounts.service import Principal, audit, principal_for
from broadcast.audiences.criteria import AudienceCriteria
from broadcast.broadcasts import service as broadcasts
from broadcast.broadcasts.caps import CapExceeded
from broadcast.broadcasts.estimates import SmsTooLong
from broadcast.broadcasts.models import Broadcast, Priority
from broadcast.broadcasts.schemas import BroadcastIn
from broadcast.channels.base import ChannelName, channel_names
from broadcast.core.errors import Conflict, DomainError, NotFound, Unauthenticated
from broadcast.core.sqlutil import row_id
from broadcast.core.timeutil import utcnow
from broadcast.directory.models import ContactRole, Organisation
from broadcast.inbound.events import AlertEvent
from broadcast.inbound.models import InboundAlert, InboundKind, InboundReceipt, InboundSource
from broadcast.inbound.schemas import InboundSourceIn, InboundSourcePatch
from broadcast.notices.models import Notice, NoticeStatus, NoticeUpdate
from broadcast.notices.schemas import UpdateIn
from broadcast.notices.service import add_update
from broadcast.settings import Settings
from broadcast.webhooks.events import emit_notice_event
from broadcast.webhooks.models import WebhookEvent
from broadcast.webhooks.signing import new_secret

log = logging.getLogger(__name__)

STAFF_ROLES = (ContactRole.teacher, ContactRole.staff, ContactRole.head)
RECEIPTS_KEPT = timedelta(hours=1)
"""Longer than the 5 minutes a signed timestamp is accepted for: an older replay is refused
by its timestamp, so its receipt is no longer needed."""


class ReceivedConcurrently(DomainError):
    """The same alert or message id is being recorded by another request right now: this one
    rolls back and the sender retries (Alertmanager retries a 5xx), then finds it recorded."""

    status_code = 503
    code = "received_concurrently"
    message_fr = "Cette alerte arrive en même temps par une autre requête : renvoyez-la."
    message_en = "This alert is arriving through another request at the same time: send it again."


async def _flush_unique(session: AsyncSession) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ReceivedConcurrently() from exc


class AlertStatus(enum.StrEnum):
    firing = "firing"
    resolve_proposed = "resolve_proposed"
    """The monitoring system says it is over; a person has not confirmed it yet."""
    resolved = "resolved"


# -- sources -------------------------------------------------------------------------------


def new_source_secret(kind: InboundKind) -> str:
    """A bearer token for Alertmanager, a ``whsec_`` Standard Webhooks secret otherwise."""
    return secrets.token_urlsafe(32) if kind == InboundKind.alertmanager else new_secret()


async def create_source(
    session: AsyncSession, principal: Principal, data: InboundSourceIn
) -> InboundSource:
    organisation = await organisation_within_scope(session, principal, data.organisation_id)
    source = InboundSource(
        organisation_id=row_id(organisation),
        name=data.name,
        kind=data.kind,
        secret=new_source_secret(data.kind),
        auto_send_channels=channel_names(data.auto_send_channels),
        created_by_id=principal.operator_id,
    )
    session.add(source)
    await session.flush()
    audit(
        session,
        principal,
        "inbound_source.create",
        organisation_id=source.organisation_id,
        object_type="inbound_source",
        object_id=source.id,
        details={"kind": source.kind, "auto_send_channels": source.auto_send_channels},
    )
    return source


async def update_source(
    session: AsyncSession, principal: Principal, source: InboundSource, data: InboundSourcePatch
) -> InboundSource:
    """Rename, change the automatic-send rule, or stop listening (a disabled source's posts
    are refused); the rule's owner becomes whoever changed it."""
    principal.require(Permission.integrations_manage)
    changes = data.model_dump(exclude_none=True, mode="json")
    if data.name is not None:
        source.name = data.name
    if data.auto_send_channels is not None:
        source.auto_send_channels = channel_names(data.auto_send_channels)
        source.created_by_id = principal.operator_id
    if data.enabled is not None:
        source.enabled = data.enabled
    audit(
        session,
        principal,
        "inbound_source.update",
        organisation_id=source.organisation_id,
        object_type="inbound_source",
        object_id=source.id,
        details=changes,
    )
    return source


async def get_source(session: AsyncSession, principal: Principal, source_id: int) -> InboundSource:
    not_found = NotFound("Source de supervision introuvable.", "Monitoring source not found.")
    return await get_within_scope(session, principal, InboundSource, source_id, not_found)


async def list_sources(
    session: AsyncSession, principal: Principal, *, after: int = 0, limit: int = 50
) -> list[InboundSource]:
    rows = await session.execute(
        select_within_scope(principal, InboundSource)
        .where(col(InboundSource.id) > after)
        .order_by(col(InboundSource.id))
        .limit(limit)
    )
    return list(rows.scalars())


async def delete_source(session: AsyncSession, principal: Principal, source: InboundSource) -> None:
    """Delete the source with its alerts and receipts; the notices it opened stay."""
    principal.require(Permission.integrations_manage)
    audit(
        session,
        principal,
        "inbound_source.delete",
        organisation_id=source.organisation_id,
        object_type="inbound_source",
        object_id=source.id,
    )
    await session.delete(source)


# -- authenticating what a source posts ----------------------------------------------------


async def source_for_kind(
    session: AsyncSession, source_id: int, kind: InboundKind
) -> InboundSource:
    """The enabled source of that kind; 401 for any other, so ids cannot be probed."""
    source = await session.get(InboundSource, source_id)
    if source is None or not source.enabled or source.kind != kind:
        raise Unauthenticated(
            "Source de supervision inconnue ou secret invalide.",
            "Unknown monitoring source or invalid secret.",
        )
    return source


def check_bearer(source: InboundSource, authorization: str) -> None:
    """Alertmanager's ``Authorization: Bearer <secret>``, compared in constant time."""
    scheme, _, token = authorization.partition(" ")
    given = token.strip().encode() if scheme.lower() == "bearer" else b""
    if not hmac.compare_digest(given, source.secret.encode()):
        raise Unauthenticated(
            "Source de supervision inconnue ou secret invalide.",
            "Unknown monitoring source or invalid secret.",
        )


async def first_receipt(session: AsyncSession, source: InboundSource, message_id: str) -> bool:
    """Record ``message_id``; False when it was already received (a replay, RULES W4)."""
    seen = await session.scalar(
        select(col(InboundReceipt.id)).where(
            col(InboundReceipt.source_id) == source.id,
            col(InboundReceipt.message_id) == message_id,
        )
    )
    if seen is not None:
        return False
    session.add(InboundReceipt(source_id=row_id(source), message_id=message_id))
    await _flush_unique(session)
    return True


async def purge_receipts(session: AsyncSession, now: datetime | None = None) -> int:
    """Forget receipts older than :data:`RECEIPTS_KEPT`."""
    before = (now or utcnow()) - RECEIPTS_KEPT
    result = await session.execute(
        delete(InboundReceipt).where(col(InboundReceipt.received_at) < before)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# -- receiving alerts ----------------------------------------------------------------------


@dataclass(slots=True)
class Received:
    """What one request did; the fan-outs of ``broadcasts`` are enqueued after the commit."""

    opened: list[int] = field(default_factory=list)
    seen_again: int = 0
    proposed: list[int] = field(default_factory=list)
    broadcasts: list[Broadcast] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        return {
            "opened_notice_ids": self.opened,
            "seen_again": self.seen_again,
            "proposed_alert_ids": self.proposed,
            "broadcast_ids": [b.id for b in self.broadcasts],
        }


async def receive(
    session: AsyncSession,
    source: InboundSource,
    events: Sequence[AlertEvent],
    settings: Settings,
) -> Received:
    """Apply each alert; ``settings`` govern an automatic send (caps, approval)."""
    received = Received()
    for event in events:
        alert = await _alert(session, source, event.fingerprint)
        if event.firing:
            await _on_firing(session, source, alert, event, received, settings)
        else:
            await _on_resolved(session, alert, received)
    return received


async def _alert(
    session: AsyncSession, source: InboundSource, fingerprint: str
) -> InboundAlert | None:
    found = await session.execute(
        select(InboundAlert).where(
            col(InboundAlert.source_id) == source.id,
            col(InboundAlert.fingerprint) == fingerprint,
        )
    )
    return found.scalars().first()


async def _notice_is_open(session: AsyncSession, alert: InboundAlert) -> bool:
    notice = await session.get(Notice, alert.notice_id)
    return notice is not None and notice.status != NoticeStatus.resolved


async def _on_firing(
    session: AsyncSession,
    source: InboundSource,
    alert: InboundAlert | None,
    event: AlertEvent,
    received: Received,
    settings: Settings,
) -> None:
    """Open a notice for a new fingerprint, or for one whose notice was resolved; otherwise
    only note that it was seen (and withdraw a pending "résolu" proposal: it fires again)."""
    if alert is not None and await _notice_is_open(session, alert):
        alert.status = AlertStatus.firing
        alert.last_seen_at = utcnow()
        received.seen_again += 1
        return
    notice = await _open_notice(session, source, event)
    if alert is None:
        alert = InboundAlert(
            source_id=row_id(source),
            fingerprint=event.fingerprint,
            notice_id=row_id(notice),
            status=AlertStatus.firing,
        )
        session.add(alert)
    else:
        alert.notice_id, alert.first_seen_at = row_id(notice), utcnow()
    alert.status, alert.last_seen_at = AlertStatus.firing, utcnow()
    await _flush_unique(session)
    received.opened.append(row_id(notice))
    broadcast = await _auto_send(session, source, notice, settings)
    if broadcast is not None:
        received.broadcasts.append(broadcast)


async def _open_notice(session: AsyncSession, source: InboundSource, event: AlertEvent) -> Notice:
    notice = Notice(
        organisation_id=source.organisation_id,
        title=event.title,
        status=NoticeStatus.investigating,
        public=False,
    )
    session.add(notice)
    await session.flush()
    update = NoticeUpdate(
        notice_id=row_id(notice), status=NoticeStatus.investigating, message=event.message
    )
    session.add(update)
    await session.flush()
    await emit_notice_event(session, WebhookEvent.notice_created, notice, update)
    audit(
        session,
        None,
        "inbound.notice_open",
        organisation_id=source.organisation_id,
        object_type="notice",
        object_id=notice.id,
        details={"source_id": source.id, "fingerprint": event.fingerprint},
    )
    log.info(
        "inbound source %s: alert %s opened notice %s", source.id, event.fingerprint, notice.id
    )
    return notice


async def _on_resolved(
    session: AsyncSession, alert: InboundAlert | None, received: Received
) -> None:
    if alert is None:
        return  # resolved before we ever saw it fire: nothing to say
    alert.last_seen_at = utcnow()
    if alert.status != AlertStatus.firing:
        return
    if not await _notice_is_open(session, alert):
        alert.status = AlertStatus.resolved  # a person already resolved the notice
        return
    alert.status = AlertStatus.resolve_proposed
    received.proposed.append(row_id(alert))


async def _auto_send(
    session: AsyncSession, source: InboundSource, notice: Notice, settings: Settings
) -> Broadcast | None:
    """The operator's rule: send the new notice at once to staff only, as that operator.
    Caps and approval apply as to any send: a broadcast held for approval waits for its
    approvers (who are told), one over a cap or with an SMS over Twilio's length limit stays a
    draft beside the notice, which is kept."""
    if not source.auto_send_channels:
        return None
    principal = await _rule_owner(session, source)
    if principal is None:
        log.warning("inbound source %s: auto-send skipped, its owner cannot send", source.id)
        return None
    data = BroadcastIn(
        notice_id=row_id(notice),
        audience=AudienceCriteria(
            organisation_ids=[source.organisation_id], roles=list(STAFF_ROLES)
        ),
        channels=[ChannelName(c) for c in source.auto_send_channels],
        priority=Priority.urgent,
    )
    draft = await broadcasts.create_draft(session, principal, data)
    try:
        confirmed = await broadcasts.confirm(session, principal, draft, settings)
    except (CapExceeded, SmsTooLong) as refused:
        log.warning(
            "inbound source %s: auto-send refused (%s), left as a draft", source.id, refused.code
        )
        audit(
            session,
            principal,
            "inbound.auto_send_refused",
            organisation_id=source.organisation_id,
            object_type="broadcast",
            object_id=draft.id,
            details={"source_id": source.id, "notice_id": notice.id, "reason": refused.message_fr},
        )
        return None
    audit(
        session,
        principal,
        "inbound.auto_send",
        organisation_id=source.organisation_id,
        object_type="broadcast",
        object_id=confirmed.id,
        details={"source_id": source.id, "notice_id": notice.id},
    )
    return confirmed


async def _rule_owner(session: AsyncSession, source: InboundSource) -> Principal | None:
    """The operator who created the source, acting within the source's organisation only."""
    operator = await session.get(Operator, source.created_by_id) if source.created_by_id else None
    organisation = await session.get(Organisation, source.organisation_id)
    if operator is None or not operator.active or organisation is None:
        return None
    principal = principal_for(operator, organisation)
    return principal if principal.can(Permission.broadcasts_send) else None


# -- proposals -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Proposal:
    """A "résolu" update the monitoring system proposes for a notice it opened."""

    alert: InboundAlert
    source: InboundSource
    notice: Notice


RESOLVED_MESSAGE = "Incident résolu : le service fonctionne de nouveau normalement."


async def list_proposals(
    session: AsyncSession, principal: Principal, *, after: int = 0, limit: int = 50
) -> list[Proposal]:
    query = (
        select(InboundAlert, InboundSource, Notice)
        .join(InboundSource, col(InboundSource.id) == col(InboundAlert.source_id))
        .join(Notice, col(Notice.id) == col(InboundAlert.notice_id))
    )
    rows = await session.execute(
        join_organisation(query, InboundSource)
        .where(
            in_scope(principal),
            col(InboundAlert.status) == AlertStatus.resolve_proposed,
            col(InboundAlert.id) > after,
        )
        .order_by(col(InboundAlert.id))
        .limit(limit)
    )
    return [Proposal(alert, source, notice) for alert, source, notice in rows.all()]


async def confirm_resolution(session: AsyncSession, principal: Principal, alert_id: int) -> Notice:
    """A person confirms the proposal: the notice gets its "résolu" update."""
    alert, notice = await _proposal(session, principal, alert_id)
    if alert.status != AlertStatus.resolve_proposed:
        raise Conflict(
            "Aucune résolution proposée pour cette alerte.",
            "No resolution is proposed for this alert.",
        )
    await add_update(
        session, principal, notice, UpdateIn(status=NoticeStatus.resolved, message=RESOLVED_MESSAGE)
    )
    alert.status = AlertStatus.resolved
    audit(
        session,
        principal,
        "inbound.resolve_confirm",
        organisation_id=notice.organisation_id,
        object_type="notice",
        object_id=notice.id,
        details={"alert_id": alert_id},
    )
    return notice


async def _proposal(
    session: AsyncSession, principal: Principal, alert_id: int
) -> tuple[InboundAlert, Notice]:
    not_found = NotFound("Alerte introuvable.", "Alert not found.")
    alert = await session.get(InboundAlert, alert_id)
    if alert is None:
        raise not_found
    return alert, await get_within_scope(session, principal, Notice, alert.notice_id, not_found)

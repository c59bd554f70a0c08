"""Tell the approvers by email that a broadcast waits for them (RULES A6).

Sent by a job after the commit that put the broadcast in ``pending_approval``, through the first
SMTP relay, one message per approver (each sees only his own address). The text names the notice,
the requester, the estimate and why approval is needed, with a link to its approval page in the
console; it never quotes the message body. A job run again sends again: a second reminder is
harmless.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email.message import EmailMessage
from html import escape

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.accounts.models import AuditEvent, Operator
from broadcast.broadcasts.approval import (
    APPROVAL_REQUESTED,
    REASONS_EN,
    REASONS_FR,
    approvers,
)
from broadcast.broadcasts.models import Broadcast, BroadcastStatus
from broadcast.core.db import SessionFactory, transaction
from broadcast.core.mail import operator_email, send_to_operator
from broadcast.notices.models import Notice
from broadcast.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    broadcast_id: int
    notice_title: str
    requester: str
    recipients: int
    sms_segments: int
    channels: list[str]
    reasons: list[str]


async def notify_approvers(factory: SessionFactory, settings: Settings, broadcast_id: int) -> int:
    """Email every approver of the broadcast while it still waits; returns how many were told."""
    async with transaction(factory) as session:
        broadcast = await session.get(Broadcast, broadcast_id)
        if broadcast is None or broadcast.status != BroadcastStatus.pending_approval:
            return 0
        request = await approval_request(session, broadcast)
        recipients = await approvers(session, broadcast)
    if not recipients:
        log.warning("broadcast %s waits for approval but no operator can approve it", broadcast_id)
    for approver in recipients:
        await send_to_operator(settings, approval_message(settings, request, approver))
    log.info("broadcast %s: approval requested from %s operators", broadcast_id, len(recipients))
    return len(recipients)


async def approval_request(session: AsyncSession, broadcast: Broadcast) -> ApprovalRequest:
    """Who asked for the send (the latest request), its estimate and why it waits."""
    notice = await session.get(Notice, broadcast.notice_id)
    event = (
        await session.execute(
            select(AuditEvent)
            .where(
                col(AuditEvent.object_type) == "broadcast",
                col(AuditEvent.object_id) == broadcast.id,
                col(AuditEvent.action) == APPROVAL_REQUESTED,
            )
            .order_by(col(AuditEvent.id).desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    requester = (
        await session.get(Operator, event.operator_id) if event and event.operator_id else None
    )
    return ApprovalRequest(
        broadcast_id=broadcast.id or 0,
        notice_title=notice.title if notice else "",
        requester=requester.display_name if requester else "?",
        recipients=broadcast.estimated_recipients,
        sms_segments=broadcast.estimated_sms_segments,
        channels=list(broadcast.channels),
        reasons=list(event.details.get("reasons", [])) if event else [],
    )


def approval_message(settings: Settings, request: ApprovalRequest, to: Operator) -> EmailMessage:
    """The request in the approver's language (French unless he chose English)."""
    link = approval_link(settings, request.broadcast_id)
    locale = "en" if to.locale == "en" else "fr"
    subject, text = (_request_en if locale == "en" else _request_fr)(request, link)
    return operator_email(settings, to.email, subject, text, _html(text, link, locale))


def _request_fr(request: ApprovalRequest, link: str) -> tuple[str, str]:
    reasons = "; ".join(REASONS_FR.get(code, code) for code in request.reasons) or "seuil"
    return f"Approbation demandée : diffusion n° {request.broadcast_id}", (
        "Bonjour,\n\n"
        f"{request.requester} demande l'envoi de la diffusion n° {request.broadcast_id} "
        f"« {request.notice_title} » ({', '.join(request.channels)}) : "
        f"{request.recipients} destinataires, {request.sms_segments} segments SMS.\n"
        f"Une seconde approbation est nécessaire : {reasons}.\n\n"
        f"Pour l'examiner, puis l'approuver ou la refuser : {link}\n\n"
        "Ce message est envoyé automatiquement ; l'envoi ne partira qu'après votre approbation "
        "ou celle d'un autre opérateur habilité.\n"
    )


def _request_en(request: ApprovalRequest, link: str) -> tuple[str, str]:
    reasons = "; ".join(REASONS_EN.get(code, code) for code in request.reasons) or "threshold"
    return f"Approval requested: broadcast no. {request.broadcast_id}", (
        "Hello,\n\n"
        f"{request.requester} asks to send the broadcast no. {request.broadcast_id} "
        f"“{request.notice_title}” ({', '.join(request.channels)}): "
        f"{request.recipients} recipients, {request.sms_segments} SMS segments.\n"
        f"A second approval is needed: {reasons}.\n\n"
        f"To review it, then approve or refuse it: {link}\n\n"
        "This message is sent automatically; the send leaves only after your approval or "
        "that of another authorised operator.\n"
    )


def approval_link(settings: Settings, broadcast_id: int) -> str:
    """The console's approval page of the broadcast."""
    return f"{settings.public_base_url}/console/approbations/{broadcast_id}"


def _html(text: str, link: str, locale: str) -> str:
    body = escape(text).replace(escape(link), f'<a href="{escape(link)}">{escape(link)}</a>', 1)
    return f'<!doctype html><html lang="{locale}"><body><pre>{body}</pre></body></html>'

"""Two-person approval (RULES A6): what a confirmed broadcast becomes, and who may release it.

At confirmation the broadcast records its estimate (recipients, SMS segments), passes the volume
caps of :mod:`broadcast.broadcasts.caps`, then either waits in ``pending_approval`` (over a
threshold of its scope, or any audience above school level) or is released: ``scheduled`` when
``scheduled_at`` is ahead, ``queued`` otherwise. Another operator with approval permission and
scope over it approves (caps checked again) or rejects it with a reason; the requester never
approves his own. A platform admin's emergency override approves any, his own included, and is
audited as such. Nothing here commits: the caller's transaction does, then enqueues.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.accounts.models import AuditEvent, Operator, Role
from broadcast.accounts.permissions import Permission, role_allows
from broadcast.accounts.scoped import covers
from broadcast.accounts.service import Principal, audit
from broadcast.audiences.preview import AudiencePreview
from broadcast.broadcasts.caps import check_caps
from broadcast.broadcasts.models import Broadcast, BroadcastStatus, status_fr
from broadcast.broadcasts.transitions import follow_status
from broadcast.core.errors import Conflict, Forbidden, InvalidInput
from broadcast.core.timeutil import as_utc, utcnow
from broadcast.directory.models import Organisation, OrganisationKind
from broadcast.settings import Settings
from broadcast.webhooks.events import emit_broadcast_event
from broadcast.webhooks.models import WebhookEvent

APPROVAL_REQUESTED = "broadcast.approval_requested"

REASONS_FR = {
    "audience_above_school": "l'audience dépasse un établissement",
    "recipients": "nombre de destinataires au-dessus du seuil",
    "sms_segments": "segments SMS au-dessus du seuil",
    "cost": "coût SMS au-dessus du seuil",
}
REASONS_EN = {
    "audience_above_school": "the audience goes beyond one school",
    "recipients": "number of recipients above the threshold",
    "sms_segments": "SMS segments above the threshold",
    "cost": "SMS cost above the threshold",
}
REASON_SENTENCES_FR = {
    "audience_above_school": (
        "L'audience dépasse un établissement : un second opérateur doit approuver l'envoi."
    ),
    "recipients": (
        "Le nombre de destinataires dépasse le seuil fixé : un second opérateur doit approuver "
        "l'envoi."
    ),
    "sms_segments": (
        "Le nombre de segments SMS dépasse le seuil fixé : un second opérateur doit approuver "
        "l'envoi."
    ),
    "cost": (
        "Le coût SMS estimé dépasse le seuil fixé : un second opérateur doit approuver l'envoi."
    ),
}
"""The same reasons as sentences, shown beside their codes in the preview."""


class OwnApproval(Forbidden):
    code = "own_broadcast"
    message_fr = (
        "Vous avez demandé cet envoi : un autre opérateur doit l'approuver ou le rejeter "
        "(pour le retirer, annulez-le)."
    )
    message_en = (
        "You requested this send: another operator must approve or reject it "
        "(cancel it to withdraw it)."
    )


async def request_send(
    session: AsyncSession,
    principal: Principal,
    broadcast: Broadcast,
    settings: Settings,
    estimate: AudiencePreview,
) -> None:
    """Record the estimate, check the caps, then hold the broadcast for approval or release it."""
    now = utcnow()
    scheduled_at = as_utc(broadcast.scheduled_at) if broadcast.scheduled_at else None
    if scheduled_at is not None and scheduled_at <= now:
        raise InvalidInput(
            "L'heure programmée est passée : choisissez une heure à venir ou retirez-la.",
            "The scheduled time has passed: choose a time ahead or remove it.",
        )
    record_estimate(broadcast, estimate)
    await check_caps(session, settings, broadcast, scheduled_at or now)
    reasons = await approval_reasons(session, settings, broadcast, estimate)
    broadcast.approval_required = bool(reasons)
    if reasons:
        hold_for_approval(session, principal, broadcast, reasons)
    else:
        await release(session, broadcast, now)


def record_estimate(broadcast: Broadcast, estimate: AudiencePreview) -> None:
    broadcast.estimated_recipients = estimate.deliveries
    broadcast.confirmed_preview = estimate.model_dump(mode="json")
    broadcast.estimated_sms_segments = estimate.sms.total_segments if estimate.sms else 0


async def approval_reasons(
    session: AsyncSession, settings: Settings, broadcast: Broadcast, estimate: AudiencePreview
) -> list[str]:
    """Why this send needs a second operator (codes of :data:`REASONS_FR`); empty if it does not."""
    reasons = []
    if settings.approval_above_school and await _audience_above_school(session, broadcast):
        reasons.append("audience_above_school")
    organisation = await session.get(Organisation, broadcast.organisation_id)
    assert organisation is not None
    threshold = settings.approval_thresholds.get(organisation.kind)
    if threshold is None:
        return reasons
    sms = estimate.sms
    for code, value, limit in (
        ("recipients", estimate.deliveries, threshold.recipients),
        ("sms_segments", sms.total_segments if sms else 0, threshold.sms_segments),
        ("cost", sms.cost_eur if sms else 0.0, threshold.cost_eur),
    ):
        if limit is not None and value > limit:
            reasons.append(code)
    return reasons


async def _audience_above_school(session: AsyncSession, broadcast: Broadcast) -> bool:
    """An exercise sent to its seed list alone reaches those addresses, not the audience."""
    if broadcast.is_exercise and broadcast.exercise_addresses:
        return False
    ids = broadcast.audience.get("organisation_ids", [])
    kinds = await session.execute(
        select(col(Organisation.kind)).where(col(Organisation.id).in_(ids)).distinct()
    )
    return any(kind != OrganisationKind.etablissement for kind in kinds.scalars())


def hold_for_approval(
    session: AsyncSession, principal: Principal, broadcast: Broadcast, reasons: list[str]
) -> None:
    broadcast.status = BroadcastStatus.pending_approval
    follow_status(session, broadcast)
    _audit(
        session,
        principal,
        broadcast,
        APPROVAL_REQUESTED,
        reasons=reasons,
        estimated_recipients=broadcast.estimated_recipients,
        estimated_sms_segments=broadcast.estimated_sms_segments,
    )


async def release(session: AsyncSession, broadcast: Broadcast, now: datetime) -> None:
    """``scheduled`` while its time is ahead; otherwise ``queued`` (its fan-out enqueued after
    commit) and announced to the webhook subscribers."""
    scheduled_at = as_utc(broadcast.scheduled_at) if broadcast.scheduled_at else None
    if scheduled_at is not None and scheduled_at > now:
        broadcast.status = BroadcastStatus.scheduled
        return
    broadcast.status = BroadcastStatus.queued
    broadcast.queued_at = now
    follow_status(session, broadcast)
    await emit_broadcast_event(session, WebhookEvent.broadcast_queued, broadcast)


async def approve(
    session: AsyncSession, principal: Principal, broadcast: Broadcast, settings: Settings
) -> None:
    _ensure_pending(broadcast)
    if principal.operator_id in await requesters(session, broadcast):
        raise OwnApproval()
    await _release_approved(session, principal, broadcast, settings, override=False)
    _audit(session, principal, broadcast, "broadcast.approve", status=broadcast.status)


async def override(
    session: AsyncSession,
    principal: Principal,
    broadcast: Broadcast,
    settings: Settings,
    reason: str,
) -> None:
    """The platform admin's emergency release: no second person, the reason in the audit log."""
    if principal.role != Role.platform_admin:
        raise Forbidden()
    _ensure_pending(broadcast)
    await _release_approved(session, principal, broadcast, settings, override=True)
    _audit(
        session, principal, broadcast, "broadcast.override", reason=reason, status=broadcast.status
    )


async def _release_approved(
    session: AsyncSession,
    principal: Principal,
    broadcast: Broadcast,
    settings: Settings,
    *,
    override: bool,
) -> None:
    now = utcnow()
    scheduled_at = as_utc(broadcast.scheduled_at) if broadcast.scheduled_at else None
    await check_caps(session, settings, broadcast, max(scheduled_at or now, now))
    broadcast.approved_by_id = principal.operator_id
    broadcast.approved_at = now
    broadcast.approval_override = override
    await release(session, broadcast, now)


async def reject(
    session: AsyncSession, principal: Principal, broadcast: Broadcast, reason: str
) -> None:
    _ensure_pending(broadcast)
    if principal.operator_id in await requesters(session, broadcast):
        raise OwnApproval()
    broadcast.status = BroadcastStatus.rejected
    broadcast.rejected_by_id = principal.operator_id
    broadcast.rejected_at = utcnow()
    broadcast.rejection_reason = reason
    _audit(session, principal, broadcast, "broadcast.reject", reason=reason)


def _ensure_pending(broadcast: Broadcast) -> None:
    if broadcast.status != BroadcastStatus.pending_approval:
        raise Conflict(
            f"Cette diffusion est {status_fr(broadcast.status)} : seule une diffusion en attente "
            "d'approbation s'approuve ou se rejette.",
            f"This broadcast is {broadcast.status}: only one pending approval can be approved "
            "or rejected.",
        )


async def requesters(session: AsyncSession, broadcast: Broadcast) -> set[int]:
    """Who wrote the draft and who asked for its send (an operator may confirm another's)."""
    rows = await session.execute(
        select(col(AuditEvent.operator_id)).where(
            col(AuditEvent.object_type) == "broadcast",
            col(AuditEvent.object_id) == broadcast.id,
            col(AuditEvent.action) == APPROVAL_REQUESTED,
        )
    )
    found = {operator_id for operator_id in rows.scalars() if operator_id is not None}
    return found | ({broadcast.created_by_id} if broadcast.created_by_id else set())


async def approvers(session: AsyncSession, broadcast: Broadcast) -> list[Operator]:
    """Active operators allowed to approve, with scope over the broadcast, requesters excepted."""
    organisation = await session.get(Organisation, broadcast.organisation_id)
    assert organisation is not None
    roles = [role.value for role in Role if role_allows(role, Permission.broadcasts_approve)]
    rows = await session.execute(
        select(Operator, col(Organisation.path))
        .join(Organisation, col(Organisation.id) == col(Operator.organisation_id))
        .where(col(Operator.active).is_(True), col(Operator.role).in_(roles))
        .order_by(col(Operator.id))
    )
    excluded = await requesters(session, broadcast)
    return [
        operator
        for operator, path in rows.all()
        if covers(path, organisation.path) and operator.id not in excluded
    ]


def _audit(
    session: AsyncSession,
    principal: Principal,
    broadcast: Broadcast,
    action: str,
    **details: object,
) -> None:
    audit(
        session,
        principal,
        action,
        organisation_id=broadcast.organisation_id,
        object_type="broadcast",
        object_id=broadcast.id,
        details=dict(details),
    )

"""Broadcasts: draft with preview, confirm, cancel, progress. Services never commit.

Confirm moves the broadcast to ``queued`` inside the caller's transaction and asks for its
fan-out job, which the unit of work enqueues only after that commit
(:mod:`broadcast.broadcasts.transitions`).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.accounts.scoped import get_within_scope, select_within_scope
from broadcast.accounts.service import Principal, audit
from broadcast.audiences import saved
from broadcast.audiences.criteria import AudienceCriteria, for_notice, subtree_paths
from broadcast.audiences.preview import AudiencePreview
from broadcast.audiences.saved import criteria_of
from broadcast.audiences.schemas import AudiencePreviewIn
from broadcast.broadcasts import approval
from broadcast.broadcasts.estimates import (
    expected_duration_s,
    format_duration_fr,
    refuse_too_long,
    sms_estimate,
)
from broadcast.broadcasts.exercise import seed_list
from broadcast.broadcasts.models import Broadcast, BroadcastStatus, status_fr
from broadcast.broadcasts.recipient_counts import RecipientCounts
from broadcast.broadcasts.schemas import BroadcastIn
from broadcast.broadcasts.sources import preview_recipients
from broadcast.channels.base import ChannelName, channel_names
from broadcast.channels.sms.sender import SmsChannel, render_sms_text, stop_number
from broadcast.core.errors import Conflict, NotFound
from broadcast.core.sqlutil import row_id
from broadcast.core.timeutil import utcnow
from broadcast.deliveries.dispatch import message_content
from broadcast.deliveries.ledger import cancel_queued
from broadcast.deliveries.models import Delivery, DeliveryStatus
from broadcast.directory.models import Organisation
from broadcast.notices.models import Notice
from broadcast.notices.service import get_notice, get_update
from broadcast.rendering import Renderer
from broadcast.settings import Settings


async def create_draft(session: AsyncSession, principal: Principal, data: BroadcastIn) -> Broadcast:
    notice = await get_notice(session, principal, data.notice_id)
    update_row = await get_update(session, notice, data.update_id)
    criteria = await criteria_of(session, principal, data.audience, data.saved_audience_id)
    criteria = for_notice(criteria, public=notice.public)
    await _audience_paths(session, principal, notice, criteria)
    channels = channel_names(data.channels)
    broadcast = Broadcast(
        notice_id=row_id(notice),
        update_id=row_id(update_row),
        organisation_id=notice.organisation_id,
        audience=criteria.model_dump(mode="json"),
        channels=channels,
        priority=data.priority,
        delivery_mode=data.delivery_mode,
        is_exercise=data.is_exercise,
        exercise_addresses=seed_list(data.exercise_addresses, channels),
        scheduled_at=data.scheduled_at,
        created_by_id=principal.operator_id,
    )
    session.add(broadcast)
    await session.flush()
    return broadcast


async def _audience_paths(
    session: AsyncSession, principal: Principal, notice: Notice, criteria: AudienceCriteria
) -> list[str]:
    notice_org = await session.get(Organisation, notice.organisation_id)
    assert notice_org is not None
    return await subtree_paths(session, principal, criteria, within=notice_org.path)


async def preview(
    session: AsyncSession,
    principal: Principal,
    broadcast: Broadcast,
    settings: Settings | None = None,
    renderer: Renderer | None = None,
    counts: RecipientCounts | None = None,
    *,
    recount: bool = False,
) -> AudiencePreview:
    """Recipients per channel and locale; with ``settings``, also each channel's expected
    duration at its configured rate and, for SMS, the encoding, segments and cost per locale
    (RULES S4). No provider is contacted: the SMS text is rendered here as the channel would.
    With ``counts``, the recipients may be those counted a few seconds ago for the same draft
    (:mod:`broadcast.broadcasts.recipient_counts`), or counted now and kept with ``recount``.
    A text over Twilio's 1,600-character limit is a 422 (``sms_too_long``): the draft routes
    preview in the transaction that creates the draft, so such a draft is never kept."""
    notice = await get_notice(session, principal, broadcast.notice_id)
    criteria = AudienceCriteria.model_validate(broadcast.audience)
    paths = await _audience_paths(session, principal, notice, criteria)
    if counts is None:
        result = await preview_recipients(session, broadcast, criteria, paths)
    else:
        result = await counts.preview(session, broadcast, criteria, paths, recount=recount)
    if settings is None:
        return result
    for channel in result.channels:
        seconds = expected_duration_s(channel.recipients, channel_rate(settings, channel.channel))
        channel.expected_duration_s = seconds
        channel.expected_duration = format_duration_fr(seconds)
    sms = next((c for c in result.channels if c.channel == ChannelName.sms.value), None)
    if sms is not None:
        content = await message_content(session, broadcast)
        locales = sorted(sms.recipients_by_locale) or ["fr"]
        renderer = renderer or Renderer()
        stop = stop_number(settings)
        texts = {locale: render_sms_text(renderer, content, locale, stop) for locale in locales}
        refuse_too_long(texts)
        result.sms = sms_estimate(
            texts, sms.recipients_by_locale, settings.sms_price_per_segment_eur
        )
    await _describe_approval(session, settings, broadcast, result)
    return result


async def audience_preview(
    session: AsyncSession, principal: Principal, data: AudiencePreviewIn, settings: Settings
) -> AudiencePreview:
    """The preview of an audience without a broadcast, and whether a send to it from the
    principal's organisation would wait for a second operator, as a draft's preview says. The
    reasons that depend on the message (SMS segments, cost) need a draft's text."""
    criteria = await criteria_of(session, principal, data.criteria, data.saved_audience_id)
    channels = channel_names(data.channels)
    result = await saved.preview_within_scope(session, principal, criteria, channels)
    probe = Broadcast(
        notice_id=0,
        update_id=0,
        organisation_id=principal.organisation_id,
        audience=criteria.model_dump(mode="json"),
        channels=channels,
    )
    await _describe_approval(session, settings, probe, result)
    return result


async def _describe_approval(
    session: AsyncSession, settings: Settings, broadcast: Broadcast, result: AudiencePreview
) -> None:
    result.approval_reasons = await approval.approval_reasons(session, settings, broadcast, result)
    result.approval_messages = [approval.REASON_SENTENCES_FR[r] for r in result.approval_reasons]


def channel_rate(settings: Settings, channel: str) -> float | None:
    """Messages per second ``channel`` is paced at; None when nothing limits it.

    The channel's bucket in ``channel_rates``; for SMS, also the sum of the Twilio accounts'
    rates when every account has one, its own or the provider's default
    (:attr:`SmsChannel.default_rate`, unlimited), the lower wins.
    """
    configured = settings.channel_rates.get(channel)
    rates = [configured.rate] if configured is not None else []
    if channel == ChannelName.sms.value and settings.twilio_accounts:
        accounts = [a.rate or SmsChannel.default_rate for a in settings.twilio_accounts]
        if all(rate is not None for rate in accounts):
            rates.append(sum(rate.rate for rate in accounts if rate is not None))
    return min(rates) if rates else None


async def get_broadcast(
    session: AsyncSession, principal: Principal, broadcast_id: int
) -> Broadcast:
    not_found = NotFound("Diffusion introuvable.", "Broadcast not found.")
    return await get_within_scope(session, principal, Broadcast, broadcast_id, not_found)


async def list_broadcasts(
    session: AsyncSession,
    principal: Principal,
    *,
    before: int = 0,
    limit: int = 50,
    exercise: bool | None = None,
) -> list[Broadcast]:
    """Newest first, those older than the cursor ``before`` (0: from the newest).
    ``exercise``: only exercises (True), only real broadcasts (False), or both (None)."""
    query = select_within_scope(principal, Broadcast)
    if before:
        query = query.where(col(Broadcast.id) < before)
    if exercise is not None:
        query = query.where(col(Broadcast.is_exercise).is_(exercise))
    rows = await session.execute(query.order_by(col(Broadcast.id).desc()).limit(limit))
    return list(rows.scalars())


async def confirm(
    session: AsyncSession, principal: Principal, broadcast: Broadcast, settings: Settings
) -> Broadcast:
    """The send request: estimate, volume caps, then ``pending_approval``, ``scheduled`` or
    ``queued`` (:mod:`broadcast.broadcasts.approval`), with the job that status triggers."""
    if broadcast.status != BroadcastStatus.draft:
        raise Conflict(
            f"Cette diffusion est déjà {status_fr(broadcast.status)} : "
            "seul un brouillon se confirme.",
            f"This broadcast is already {broadcast.status}: only a draft can be confirmed.",
        )
    estimate = await preview(session, principal, broadcast, settings)
    await approval.request_send(session, principal, broadcast, settings, estimate)  # emits queued
    audit(
        session,
        principal,
        "broadcast.send",
        organisation_id=broadcast.organisation_id,
        object_type="broadcast",
        object_id=broadcast.id,
        details={
            "channels": broadcast.channels,
            "priority": broadcast.priority,
            "status": broadcast.status,
            "estimated_recipients": broadcast.estimated_recipients,
            "estimated_sms_segments": broadcast.estimated_sms_segments,
        },
    )
    return broadcast


async def cancel(session: AsyncSession, principal: Principal, broadcast: Broadcast) -> Broadcast:
    """Stop a broadcast: deliveries not yet handed to a provider are cancelled."""
    if broadcast.status in (BroadcastStatus.completed, BroadcastStatus.cancelled):
        raise Conflict(
            f"Cette diffusion est déjà {status_fr(broadcast.status)}.",
            f"This broadcast is already {broadcast.status}.",
        )
    broadcast.status = BroadcastStatus.cancelled
    broadcast.cancelled_at = utcnow()
    await session.flush()  # dispatch claims nothing more from here on
    await cancel_queued(session, row_id(broadcast))
    audit(
        session,
        principal,
        "broadcast.cancel",
        organisation_id=broadcast.organisation_id,
        object_type="broadcast",
        object_id=broadcast.id,
        details={"totals": totals(await counters(session, row_id(broadcast)))},
    )
    return broadcast


async def counters(session: AsyncSession, broadcast_id: int) -> dict[str, dict[str, int]]:
    """``{"email": {"queued": 0, "sending": 0, "sent": 12, ...}, ...}``, live."""
    rows = await session.execute(
        select(col(Delivery.channel), col(Delivery.status), func.count())
        .where(col(Delivery.broadcast_id) == broadcast_id)
        .group_by(col(Delivery.channel), col(Delivery.status))
    )
    result: dict[str, dict[str, int]] = {}
    for channel, status, count in rows.all():
        result.setdefault(channel, dict.fromkeys(DeliveryStatus, 0))[status] = count
    return result


def totals(by_channel: dict[str, dict[str, int]]) -> dict[str, int]:
    result = {status.value: 0 for status in DeliveryStatus}
    for statuses in by_channel.values():
        for status, count in statuses.items():
            result[status] += count
    return result


async def list_deliveries(
    session: AsyncSession,
    broadcast: Broadcast,
    *,
    after: int = 0,
    limit: int = 100,
    channel: ChannelName | None = None,
    status: DeliveryStatus | None = None,
) -> list[Delivery]:
    """The broadcast's deliveries in id order after the cursor, of one channel and one status
    when asked."""
    query = select(Delivery).where(
        col(Delivery.broadcast_id) == broadcast.id, col(Delivery.id) > after
    )
    if channel is not None:
        query = query.where(col(Delivery.channel) == channel.value)
    if status is not None:
        query = query.where(col(Delivery.status) == status.value)
    rows = await session.execute(query.order_by(col(Delivery.id)).limit(limit))
    return list(rows.scalars())

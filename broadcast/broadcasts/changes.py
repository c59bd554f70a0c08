"""Changing a draft, or a scheduled broadcast until it starts (time, audience, channels).

A scheduled broadcast is first taken back to ``draft`` by a conditional update
(``WHERE status='scheduled'``): if the scheduler started it meanwhile, the change is refused
(409) instead of overwriting a broadcast on its way. Then a new time keeps the approval it had
(caps are checked at the new time); a new audience or new channels make a new send request:
new estimate, caps, and approval again when a threshold asks for it. No time means now.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.accounts.service import Principal, audit
from broadcast.audiences.criteria import AudienceCriteria, for_notice, subtree_paths
from broadcast.broadcasts import approval, service
from broadcast.broadcasts.caps import check_caps
from broadcast.broadcasts.models import Broadcast, BroadcastStatus, status_fr
from broadcast.broadcasts.schemas import BroadcastPatch
from broadcast.channels.base import ChannelName, channel_names
from broadcast.core.errors import Conflict
from broadcast.core.timeutil import as_utc, utcnow
from broadcast.directory.models import Organisation
from broadcast.notices.models import Notice
from broadcast.settings import Settings


async def change_broadcast(
    session: AsyncSession,
    principal: Principal,
    broadcast: Broadcast,
    patch: BroadcastPatch,
    settings: Settings,
) -> None:
    was_scheduled = broadcast.status == BroadcastStatus.scheduled
    if was_scheduled:
        await take_back_from_schedule(session, broadcast)
    elif broadcast.status != BroadcastStatus.draft:
        raise Conflict(
            f"Cette diffusion est {status_fr(broadcast.status)} : seuls un brouillon et une "
            "diffusion programmée qui n'a pas commencé se modifient.",
            f"This broadcast is {broadcast.status}: only a draft or a scheduled broadcast that "
            "has not started can be changed.",
        )
    fields = sorted(patch.model_fields_set)
    if "scheduled_at" in fields:
        broadcast.scheduled_at = patch.scheduled_at
    if patch.audience is not None:
        await _set_audience(session, principal, broadcast, patch.audience)
    if patch.channels is not None:
        _set_channels(broadcast, patch.channels)
    _audit_change(session, principal, broadcast, fields)
    if was_scheduled:
        new_request = patch.audience is not None or patch.channels is not None
        await _schedule_again(session, principal, broadcast, settings, new_request=new_request)


async def take_back_from_schedule(session: AsyncSession, broadcast: Broadcast) -> None:
    result = await session.execute(
        update(Broadcast)
        .where(
            col(Broadcast.id) == broadcast.id,
            col(Broadcast.status) == BroadcastStatus.scheduled,
        )
        .values(status=BroadcastStatus.draft)
        .execution_options(synchronize_session=False)
    )
    if not getattr(result, "rowcount", 0):
        raise Conflict(
            "Cette diffusion vient de commencer : elle ne se modifie plus (annulez-la).",
            "This broadcast has just started: it can no longer be changed (cancel it).",
        )
    broadcast.status = BroadcastStatus.draft


async def _set_audience(
    session: AsyncSession, principal: Principal, broadcast: Broadcast, audience: AudienceCriteria
) -> None:
    notice = await session.get(Notice, broadcast.notice_id)
    assert notice is not None
    within = await session.get(Organisation, notice.organisation_id)
    assert within is not None
    audience = for_notice(audience, public=notice.public)
    await subtree_paths(session, principal, audience, within=within.path)
    broadcast.audience = audience.model_dump(mode="json")


def _set_channels(broadcast: Broadcast, channels: list[ChannelName]) -> None:
    broadcast.channels = channel_names(channels)


async def _schedule_again(
    session: AsyncSession,
    principal: Principal,
    broadcast: Broadcast,
    settings: Settings,
    *,
    new_request: bool,
) -> None:
    if new_request:
        _forget_approval(broadcast)
        estimate = await service.preview(session, principal, broadcast, settings)
        await approval.request_send(session, principal, broadcast, settings, estimate)
        return
    now = utcnow()
    scheduled_at = as_utc(broadcast.scheduled_at) if broadcast.scheduled_at else None
    await check_caps(session, settings, broadcast, scheduled_at or now)
    await approval.release(session, broadcast, now)


def _forget_approval(broadcast: Broadcast) -> None:
    broadcast.approved_by_id = None
    broadcast.approved_at = None
    broadcast.approval_override = False


def _audit_change(
    session: AsyncSession, principal: Principal, broadcast: Broadcast, fields: list[str]
) -> None:
    scheduled_at = broadcast.scheduled_at
    audit(
        session,
        principal,
        "broadcast.change",
        organisation_id=broadcast.organisation_id,
        object_type="broadcast",
        object_id=broadcast.id,
        details={
            "fields": fields,
            "scheduled_at": as_utc(scheduled_at).isoformat() if scheduled_at else None,
        },
    )

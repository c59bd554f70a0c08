"""Broadcasts: draft with preview, confirm, cancel, progress and deliveries."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, status

from admin.api.answers import broadcast_answer
from admin.api.pages import BigCursorParam, CursorParam, LimitParam, Page, page_of
from admin.deps import SettingsDep, UowDep, requires
from admin.idempotency import idempotent
from broadcast.accounts.permissions import Permission
from broadcast.accounts.service import Principal
from broadcast.audiences.preview import AudiencePreview
from broadcast.broadcasts import control, follow_up, service
from broadcast.broadcasts.schemas import (
    BroadcastIn,
    BroadcastOut,
    DeliveryOut,
    FollowUpIn,
    delivery_out,
)
from broadcast.channels.base import ChannelName
from broadcast.core.validation import RowId
from broadcast.deliveries.models import DeliveryStatus

router = APIRouter(prefix="/broadcasts", tags=["broadcasts"])

Reader = Annotated[Principal, requires(Permission.broadcasts_read)]
Sender = Annotated[Principal, requires(Permission.broadcasts_send)]
DeliveryReader = Annotated[Principal, requires(Permission.deliveries_read)]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=BroadcastOut)
@idempotent
async def create_draft(
    uow: UowDep, principal: Sender, settings: SettingsDep, body: BroadcastIn
) -> BroadcastOut:
    """A draft and its preview: recipients per channel after suppressions and de-duplication,
    expected durations and, for SMS, encoding, segments and cost per locale."""
    draft = await service.create_draft(uow.session, principal, body)
    preview = await service.preview(uow.session, principal, draft, settings)
    return await broadcast_answer(uow.session, draft, preview)


@router.get("", response_model=Page[BroadcastOut])
async def list_broadcasts(
    uow: UowDep,
    principal: Reader,
    cursor: CursorParam = 0,
    limit: LimitParam = 50,
    exercise: bool | None = None,
) -> Page[BroadcastOut]:
    """Newest first. ``exercise=true``: exercises only; ``exercise=false``: real broadcasts
    only."""
    found = await service.list_broadcasts(
        uow.session, principal, before=cursor, limit=limit, exercise=exercise
    )
    items = [await broadcast_answer(uow.session, b) for b in found]
    return page_of(items, [b.id for b in found], limit)


@router.get("/{broadcast_id}", response_model=BroadcastOut)
async def read_broadcast(uow: UowDep, principal: Reader, broadcast_id: RowId) -> BroadcastOut:
    found = await service.get_broadcast(uow.session, principal, broadcast_id)
    return await broadcast_answer(uow.session, found)


@router.get("/{broadcast_id}/preview", response_model=AudiencePreview)
async def preview(
    uow: UowDep, principal: Reader, settings: SettingsDep, broadcast_id: RowId
) -> AudiencePreview:
    found = await service.get_broadcast(uow.session, principal, broadcast_id)
    return await service.preview(uow.session, principal, found, settings)


@router.post(
    "/{broadcast_id}/confirm", status_code=status.HTTP_202_ACCEPTED, response_model=BroadcastOut
)
async def confirm(
    uow: UowDep, principal: Sender, settings: SettingsDep, broadcast_id: RowId
) -> BroadcastOut:
    """Queued now, ``scheduled`` for its time, or ``pending_approval`` (approvers are emailed);
    409 ``cap_exceeded`` when a volume cap would be passed, and then nothing is queued."""
    found = await service.get_broadcast(uow.session, principal, broadcast_id)
    await service.confirm(uow.session, principal, found, settings)
    return await broadcast_answer(uow.session, found)


@router.post("/{broadcast_id}/cancel", response_model=BroadcastOut)
async def cancel(uow: UowDep, principal: Sender, broadcast_id: RowId) -> BroadcastOut:
    """Deliveries not yet handed to a provider are cancelled; those being sent finish. The
    answer's ``totals`` say what was already sent and what was cancelled."""
    found = await service.get_broadcast(uow.session, principal, broadcast_id)
    await service.cancel(uow.session, principal, found)
    return await broadcast_answer(uow.session, found)


@router.post("/{broadcast_id}/pause", response_model=BroadcastOut)
async def pause(uow: UowDep, principal: Sender, broadcast_id: RowId) -> BroadcastOut:
    """Nothing new starts; messages being sent finish, the rest waits for resume."""
    found = await service.get_broadcast(uow.session, principal, broadcast_id)
    await control.pause(uow.session, principal, found)
    return await broadcast_answer(uow.session, found)


@router.post(
    "/{broadcast_id}/resume", status_code=status.HTTP_202_ACCEPTED, response_model=BroadcastOut
)
async def resume(
    uow: UowDep, principal: Sender, settings: SettingsDep, broadcast_id: RowId
) -> BroadcastOut:
    found = await service.get_broadcast(uow.session, principal, broadcast_id)
    await control.resume(uow.session, principal, found, settings.dispatch_batch_size)
    return await broadcast_answer(uow.session, found)


@router.post(
    "/{broadcast_id}/follow-up", status_code=status.HTTP_201_CREATED, response_model=BroadcastOut
)
@idempotent
async def create_follow_up(
    uow: UowDep, principal: Sender, settings: SettingsDep, broadcast_id: RowId, body: FollowUpIn
) -> BroadcastOut:
    """A draft sending ``update_id`` to exactly the addresses this broadcast planned, minus
    those suppressed since; confirm it like any draft."""
    earlier = await service.get_broadcast(uow.session, principal, broadcast_id)
    draft = await follow_up.create_follow_up(uow.session, principal, earlier, body)
    preview = await service.preview(uow.session, principal, draft, settings)
    return await broadcast_answer(uow.session, draft, preview)


@router.get("/{broadcast_id}/deliveries", response_model=Page[DeliveryOut])
async def list_deliveries(
    uow: UowDep,
    principal: DeliveryReader,
    broadcast_id: RowId,
    cursor: BigCursorParam = 0,
    limit: LimitParam = 100,
    channel: ChannelName | None = None,
    status: DeliveryStatus | None = None,
) -> Page[DeliveryOut]:
    """Deliveries in id order, addresses masked and each tagged (the same contact, the same
    tag); ``channel`` and ``status`` keep only those of one channel, one status."""
    found = await service.get_broadcast(uow.session, principal, broadcast_id)
    deliveries = await service.list_deliveries(
        uow.session, found, after=cursor, limit=limit, channel=channel, status=status
    )
    return page_of([delivery_out(d) for d in deliveries], [d.id for d in deliveries], limit)

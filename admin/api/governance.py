"""Broadcasts waiting for a second operator or for their time: approve, reject, the emergency
override, and changes to a draft or scheduled broadcast (RULES A6)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, status

from admin.api.answers import broadcast_answer
from admin.deps import SettingsDep, UowDep, requires
from broadcast.accounts.permissions import Permission
from broadcast.accounts.service import Principal
from broadcast.broadcasts import approval, changes, service
from broadcast.broadcasts.schemas import BroadcastOut, BroadcastPatch, ReasonIn
from broadcast.core.validation import RowId

router = APIRouter(prefix="/broadcasts", tags=["broadcasts"])

Approver = Annotated[Principal, requires(Permission.broadcasts_approve)]
Overrider = Annotated[Principal, requires(Permission.broadcasts_override)]
Sender = Annotated[Principal, requires(Permission.broadcasts_send)]


@router.post(
    "/{broadcast_id}/approve", status_code=status.HTTP_202_ACCEPTED, response_model=BroadcastOut
)
async def approve(
    uow: UowDep, principal: Approver, settings: SettingsDep, broadcast_id: RowId
) -> BroadcastOut:
    """A second operator with scope over the broadcast releases it (now, or at its time); the
    requester gets 403. Volume caps are checked again."""
    found = await service.get_broadcast(uow.session, principal, broadcast_id)
    await approval.approve(uow.session, principal, found, settings)
    return await broadcast_answer(uow.session, found)


@router.post("/{broadcast_id}/reject", response_model=BroadcastOut)
async def reject(
    uow: UowDep, principal: Approver, broadcast_id: RowId, body: ReasonIn
) -> BroadcastOut:
    found = await service.get_broadcast(uow.session, principal, broadcast_id)
    await approval.reject(uow.session, principal, found, body.reason)
    return await broadcast_answer(uow.session, found)


@router.post(
    "/{broadcast_id}/override", status_code=status.HTTP_202_ACCEPTED, response_model=BroadcastOut
)
async def override(
    uow: UowDep,
    principal: Overrider,
    settings: SettingsDep,
    broadcast_id: RowId,
    body: ReasonIn,
) -> BroadcastOut:
    """Emergency: a platform admin releases a pending broadcast alone, his own included; the
    reason goes to the audit log."""
    found = await service.get_broadcast(uow.session, principal, broadcast_id)
    await approval.override(uow.session, principal, found, settings, body.reason)
    return await broadcast_answer(uow.session, found)


@router.patch("/{broadcast_id}", response_model=BroadcastOut)
async def change(
    uow: UowDep,
    principal: Sender,
    settings: SettingsDep,
    broadcast_id: RowId,
    body: BroadcastPatch,
) -> BroadcastOut:
    """Change the time, audience or channels of a draft, or of a scheduled broadcast until it
    starts (a new audience or channels go through caps and approval again)."""
    found = await service.get_broadcast(uow.session, principal, broadcast_id)
    await changes.change_broadcast(uow.session, principal, found, body, settings)
    return await broadcast_answer(uow.session, found)

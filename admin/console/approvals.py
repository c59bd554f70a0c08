"""Approvals (RULES A6): the inbox of sends waiting for a second operator, and the approval
page, which shows the whole check (recipients per channel, who is left out, why approval is
needed, each message as its recipients will see it) with Approuver and Refuser. The approvers'
email links here (:func:`broadcast.broadcasts.approval_mail.approval_link`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from admin.console.deps import ConsoleUser, console_requires
from admin.console.sends import send_path
from admin.console.texts import translate
from admin.console.web import page, redirect
from admin.deps import SettingsDep, UowDep
from broadcast.accounts.permissions import Permission
from broadcast.broadcasts import approval, service
from broadcast.broadcasts.approval_mail import approval_request
from broadcast.broadcasts.models import Broadcast, BroadcastStatus
from broadcast.broadcasts.overview import approval_inbox
from broadcast.broadcasts.recipient_view import recipient_views
from broadcast.broadcasts.send_view import people_of
from broadcast.core.validation import RowId, Text
from broadcast.directory.models import Organisation
from broadcast.notices.models import Notice
from broadcast.settings import Settings

router = APIRouter(prefix="/console/approbations", include_in_schema=False)
Approver = Annotated[ConsoleUser, console_requires(Permission.broadcasts_approve)]
MAX_REASON = 500


@router.get("")
async def inbox(request: Request, uow: UowDep, user: Approver) -> Response:
    found = await approval_inbox(uow.session, user.principal)
    return page(request, "approvals.html", locale=user.locale, user=user, inbox=found)


async def _approval_page(
    request: Request,
    uow: UowDep,
    user: ConsoleUser,
    settings: Settings,
    broadcast: Broadcast,
    *,
    reason: str = "",
    error: str | None = None,
) -> Response:
    session = uow.session
    notice = await session.get(Notice, broadcast.notice_id)
    organisation = await session.get(Organisation, broadcast.organisation_id)
    assert notice is not None and organisation is not None
    asked = await approval_request(session, broadcast)
    check = await service.preview(session, user.principal, broadcast, settings)
    return page(
        request,
        "approval.html",
        locale=user.locale,
        user=user,
        broadcast=broadcast,
        notice=notice,
        organisation=organisation,
        asked=asked,
        people=await people_of(session, broadcast),
        check=check,
        reasons=_reasons(asked.reasons) or check.approval_messages,
        views=await recipient_views(session, broadcast, settings),
        own=user.principal.operator_id in await approval.requesters(session, broadcast),
        pending=broadcast.status == BroadcastStatus.pending_approval,
        reason=reason,
        error=error,
        status_code=422 if error else 200,
    )


def _reasons(codes: list[str]) -> list[str]:
    """Why the send waits, as said when it was asked for (the figures may have moved since)."""
    return [
        approval.REASON_SENTENCES_FR[code] for code in codes if code in approval.REASON_SENTENCES_FR
    ]


@router.get("/{broadcast_id}")
async def approval_page(
    request: Request, uow: UowDep, user: Approver, settings: SettingsDep, broadcast_id: RowId
) -> Response:
    broadcast = await service.get_broadcast(uow.session, user.principal, broadcast_id)
    return await _approval_page(request, uow, user, settings, broadcast)


@router.post("/{broadcast_id}/approuver")
async def approve(
    uow: UowDep, user: Approver, settings: SettingsDep, broadcast_id: RowId
) -> Response:
    """Released (now, or at its time): to the send's page. The requester gets a 403 page."""
    broadcast = await service.get_broadcast(uow.session, user.principal, broadcast_id)
    await approval.approve(uow.session, user.principal, broadcast, settings)  # asks its jobs
    return redirect(send_path(broadcast_id))


@router.post("/{broadcast_id}/refuser")
async def reject(
    request: Request,
    uow: UowDep,
    user: Approver,
    settings: SettingsDep,
    broadcast_id: RowId,
    reason: Annotated[Text, Form(alias="motif", max_length=MAX_REASON)] = "",
) -> Response:
    """Refused with a reason, which the requester reads on the send's page; without one, the
    approval page again, saying so."""
    broadcast = await service.get_broadcast(uow.session, user.principal, broadcast_id)
    if len(reason.strip()) < 3:
        error = translate(
            "Indiquez le motif du refus, en quelques mots : il sera montré au demandeur.",
            user.locale,
        )
        return await _approval_page(
            request, uow, user, settings, broadcast, reason=reason, error=error
        )
    await approval.reject(uow.session, user.principal, broadcast, reason.strip())
    return redirect(send_path(broadcast_id))

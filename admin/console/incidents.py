"""Incidents: the list (open first), an incident's page with its lifecycle and timeline, the
form that posts an update (and the time of the next one), and the one that changes its state."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from admin.console.deps import ConsoleUser, console_requires
from admin.console.web import page, redirect
from admin.deps import UowDep
from broadcast.accounts.permissions import Permission
from broadcast.core.errors import InvalidInput
from broadcast.core.timeutil import utcnow
from broadcast.core.validation import RowId
from broadcast.notices.catalogue import catalogue_of
from broadcast.notices.incidents import (
    LIFECYCLE_ORDER,
    incident,
    list_incidents,
    status_from_form,
    update_from_form,
)
from broadcast.notices.schemas import NoticeEdit
from broadcast.notices.service import add_update, change_status, edit_notice, get_notice
from broadcast.reports.service import reports_of_notice

router = APIRouter(prefix="/console/incidents", include_in_schema=False)
Reader = Annotated[ConsoleUser, console_requires(Permission.notices_read)]
Writer = Annotated[ConsoleUser, console_requires(Permission.notices_write)]
Text = Annotated[str, Form(max_length=6000)]
Short = Annotated[str, Form(max_length=40)]


@router.get("")
async def incidents(request: Request, uow: UowDep, user: Reader) -> Response:
    lines = await list_incidents(uow.session, user.principal)
    return page(request, "incidents.html", locale=user.locale, user=user, lines=lines)


@router.get("/{notice_id}")
async def incident_page(request: Request, uow: UowDep, user: Reader, notice_id: RowId) -> Response:
    return await _incident_page(request, uow, user, notice_id)


async def _incident_page(
    request: Request,
    uow: UowDep,
    user: ConsoleUser,
    notice_id: int,
    *,
    error: str | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    shown = await incident(uow.session, user.principal, notice_id)
    catalogue = catalogue_of(request.app.state.settings)
    return page(
        request,
        "incident.html",
        locale=user.locale,
        user=user,
        incident=shown,
        services=[catalogue.label(code, user.locale) for code in shown.notice.services],
        steps=LIFECYCLE_ORDER,
        reports=await reports_of_notice(uow.session, user.principal, notice_id),
        can_write=user.principal.can(Permission.notices_write),
        done=request.query_params.get("fait", ""),
        error=error,
        typed=typed or {},
        status_code=status_code,
    )


@router.post("/{notice_id}/mises-a-jour")
async def post_update(
    request: Request,
    uow: UowDep,
    user: Writer,
    notice_id: RowId,
    status: Short = "",
    message: Text = "",
    next_update: Annotated[str, Form(alias="prochaine", max_length=40)] = "",
) -> Response:
    notice = await get_notice(uow.session, user.principal, notice_id)
    try:
        data = update_from_form(status, message, next_update, utcnow())
    except InvalidInput as invalid:
        typed = {"status": status, "message": message, "prochaine": next_update}
        return await _incident_page(
            request,
            uow,
            user,
            notice_id,
            error=invalid.message(user.locale),
            typed=typed,
            status_code=422,
        )
    await add_update(uow.session, user.principal, notice, data)
    return redirect(f"/console/incidents/{notice_id}?fait=publiee")


@router.post("/{notice_id}/etat")
async def post_status(
    request: Request, uow: UowDep, user: Writer, notice_id: RowId, status: Short = ""
) -> Response:
    notice = await get_notice(uow.session, user.principal, notice_id)
    await change_status(uow.session, user.principal, notice, status_from_form(status))
    return redirect(f"/console/incidents/{notice_id}?fait=etat")


@router.post("/{notice_id}/publication")
async def post_publication(
    request: Request, uow: UowDep, user: Writer, notice_id: RowId, public: Short = ""
) -> Response:
    """Show the incident on the public status pages (``public=oui``), or withdraw it."""
    notice = await get_notice(uow.session, user.principal, notice_id)
    shown = public == "oui"
    await edit_notice(uow.session, user.principal, notice, NoticeEdit(public=shown))
    return redirect(f"/console/incidents/{notice_id}?fait={'publie' if shown else 'retire'}")

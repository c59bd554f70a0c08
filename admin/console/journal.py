"""Journal d'audit: the entries in scope, newest first, filtered by action and days, in pages,
and the same entries as a CSV download (itself audited)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from admin.console.deps import ConsoleUser, console_requires
from admin.console.web import page
from admin.deps import UowDep
from broadcast.accounts import audit
from broadcast.accounts.audit_form import action_label, filter_from_form
from broadcast.accounts.permissions import Permission
from broadcast.core.errors import InvalidInput
from broadcast.core.validation import RowId

router = APIRouter(prefix="/console/journal", include_in_schema=False)
Reader = Annotated[ConsoleUser, console_requires(Permission.audit_read)]
Field = Annotated[str, Query(max_length=64)]
PAGE = 50


@router.get("")
async def journal(
    request: Request,
    uow: UowDep,
    user: Reader,
    action: Field = "",
    first_day: Annotated[str, Query(alias="du", max_length=20)] = "",
    last_day: Annotated[str, Query(alias="au", max_length=20)] = "",
    before: Annotated[RowId, Query(alias="avant")] = 0,
) -> Response:
    typed = {"action": action, "du": first_day, "au": last_day}
    error, entries = None, []
    try:
        filters = filter_from_form(action, first_day, last_day)
        entries = await audit.list_entries(
            uow.session, user.principal, filters, cursor=before, limit=PAGE, newest_first=True
        )
    except InvalidInput as invalid:
        error = invalid.message(user.locale)
    query = urlencode({k: v for k, v in typed.items() if v})
    older = (
        f"?{query}{'&' if query else ''}avant={entries[-1].event.id}"
        if len(entries) == PAGE
        else ""
    )
    return page(
        request,
        "journal.html",
        locale=user.locale,
        user=user,
        entries=entries,
        actions=await audit.actions_seen(uow.session, user.principal),
        action_label=lambda code: action_label(code, user.locale),
        typed=typed,
        error=error,
        older=older,
        export=f"/console/journal/export{'?' + query if query else ''}",
        status_code=422 if error else 200,
    )


@router.get("/export")
async def export(
    uow: UowDep,
    user: Reader,
    action: Field = "",
    first_day: Annotated[str, Query(alias="du", max_length=20)] = "",
    last_day: Annotated[str, Query(alias="au", max_length=20)] = "",
) -> Response:
    filters = filter_from_form(action, first_day, last_day)
    text = await audit.export_csv(uow.session, user.principal, filters)
    return Response(
        content=text.encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="journal-audit.csv"'},
    )

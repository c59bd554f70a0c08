"""The audit log, read and exported within the caller's scope. Read-only: no route changes an
entry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from admin.api.pages import CursorParam, LimitParam, Page, page_of
from admin.deps import UowDep, requires
from broadcast.accounts import audit
from broadcast.accounts.permissions import Permission
from broadcast.accounts.schemas import AuditEntryOut, AuditFilter, audit_entry_out
from broadcast.accounts.service import Principal

router = APIRouter(prefix="/audit", tags=["audit"])

Reader = Annotated[Principal, requires(Permission.audit_read)]
Filters = Annotated[AuditFilter, Depends()]


@router.get("", response_model=Page[AuditEntryOut])
async def list_audit_entries(
    uow: UowDep,
    principal: Reader,
    filters: Filters,
    cursor: CursorParam = 0,
    limit: LimitParam = 100,
    newest_first: bool = False,
) -> Page[AuditEntryOut]:
    """Who did what, when, where and on which object; oldest first unless ``newest_first``."""
    entries = await audit.list_entries(
        uow.session, principal, filters, cursor=cursor, limit=limit, newest_first=newest_first
    )
    return page_of([audit_entry_out(e) for e in entries], [e.event.id for e in entries], limit)


@router.get("/export", response_class=Response)
async def export_audit_entries(uow: UowDep, principal: Reader, filters: Filters) -> Response:
    """The same entries as a CSV download (cells guarded against formulas); the export is
    recorded in the log."""
    text = await audit.export_csv(uow.session, principal, filters)
    return Response(
        content=text.encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="journal-audit.csv"'},
    )

"""Tableau de bord: the console's home page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import Response

from admin.console.deps import ConsoleUser, console_requires
from admin.console.reports import reports_board
from admin.console.web import page
from admin.deps import UowDep
from broadcast.accounts.permissions import Permission
from broadcast.broadcasts.overview import dashboard

router = APIRouter(prefix="/console", include_in_schema=False)
Reader = Annotated[ConsoleUser, console_requires(Permission.broadcasts_read)]


@router.get("/")
async def home(request: Request, uow: UowDep, user: Reader) -> Response:
    board = await dashboard(uow.session, user.principal)
    reports = await reports_board(request, uow, user)
    return page(request, "dashboard.html", locale=user.locale, user=user, board=board, **reports)

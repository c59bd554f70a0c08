"""Signalements: a school's one-tap report, the officer's count per service on the dashboard
and the step that turns a service's reports into one incident."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import Response

from admin.console.deps import ConsoleUser, console_requires
from admin.console.web import page, redirect
from admin.deps import UowDep
from broadcast.accounts.permissions import Permission
from broadcast.directory.models import OrganisationKind
from broadcast.notices.catalogue import ServiceCatalogue, catalogue_of
from broadcast.reports.service import (
    open_incident_from_reports,
    own_reports,
    report_problem,
    waiting_groups,
)

router = APIRouter(prefix="/console/signalements", include_in_schema=False)
Reader = Annotated[ConsoleUser, console_requires(Permission.notices_read)]
Writer = Annotated[ConsoleUser, console_requires(Permission.notices_write)]
Gatherer = Annotated[ConsoleUser, console_requires(Permission.reports_gather)]
Service = Annotated[str, Form(max_length=32)]


def _catalogue(request: Request) -> ServiceCatalogue:
    return catalogue_of(request.app.state.settings)


@router.post("")
async def report(request: Request, uow: UowDep, user: Writer, service: Service = "") -> Response:
    made = await report_problem(uow.session, user.principal, service, _catalogue(request))
    return redirect(f"/console/?signale={made.service}")


@router.get("/en-attente")
async def waiting(request: Request, uow: UowDep, user: Reader) -> Response:
    """The dashboard's count of waiting reports, alone: what its script refreshes."""
    board = await reports_board(request, uow, user)
    return page(request, "_report_groups.html", locale=user.locale, user=user, **board)


@router.get("/miens")
async def mine(request: Request, uow: UowDep, user: Reader) -> Response:
    """A school's own reports and the incidents they went into, alone: refreshed by its script."""
    board = await reports_board(request, uow, user)
    return page(request, "_own_reports.html", locale=user.locale, user=user, **board)


@router.post("/{service}/incident")
async def to_incident(
    request: Request, uow: UowDep, user: Gatherer, service: Annotated[str, Path(max_length=32)]
) -> Response:
    notice = await open_incident_from_reports(
        uow.session, user.principal, service, _catalogue(request)
    )
    return redirect(f"/console/incidents/{notice.id}?fait=ouvert")


async def reports_board(request: Request, uow: UowDep, user: ConsoleUser) -> dict[str, Any]:
    """What the dashboard shows of reports: a school's buttons and own reports, or an
    officer's waiting reports per service."""
    catalogue = _catalogue(request)
    is_school = user.organisation.kind == OrganisationKind.etablissement
    can_write = user.principal.can(Permission.notices_write)
    reported = request.query_params.get("signale", "")
    return {
        "report_services": [(code, catalogue.label(code, user.locale)) for code in catalogue.labels]
        if is_school and can_write
        else [],
        "own_reports": await own_reports(uow.session, user.principal) if is_school else [],
        "report_groups": [] if is_school else await waiting_groups(uow.session, user.principal),
        "service_label": lambda code: catalogue.label(code, user.locale),
        "reported": catalogue.label(reported, user.locale) if reported in catalogue.labels else "",
        "can_open_incident": user.principal.can(Permission.reports_gather),
        "is_school": is_school,
    }

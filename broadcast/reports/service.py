"""Signalements. A school reports in one tap that a service of the catalogue does not work
there; within the scope of an officer, the waiting reports are counted per service ("37
établissements signalent un problème ENT depuis 7 h 52"), and one step turns those of a
service into one incident of the officer's organisation, to which they are linked. A school
then sees the incident its report went into. Services take a session and never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.accounts.scoped import in_scope
from broadcast.accounts.service import Principal, audit
from broadcast.core.errors import Forbidden, InvalidInput, NotFound
from broadcast.core.sqlutil import row_id
from broadcast.core.timeutil import as_utc, utcnow
from broadcast.directory.models import Organisation, OrganisationKind
from broadcast.notices.catalogue import DEFAULT_CATALOGUE, ServiceCatalogue
from broadcast.notices.models import Notice, NoticeStatus, NoticeUpdate
from broadcast.notices.schemas import NoticeIn
from broadcast.notices.service import create_notice
from broadcast.reports.models import ProblemReport
from broadcast.status.timefmt import clock

WAITING_FOR = timedelta(hours=12)
"""A report not turned into an incident within this time is no longer counted."""


@dataclass(frozen=True, slots=True)
class ReportGroup:
    service: str
    schools: int
    since: datetime


@dataclass(frozen=True, slots=True)
class OwnReport:
    """A report of the school and, once linked, the incident and its latest update."""

    report: ProblemReport
    notice: Notice | None
    latest: NoticeUpdate | None


def _waiting(now: datetime) -> list[ColumnElement[bool]]:
    return [
        col(ProblemReport.notice_id).is_(None),
        col(ProblemReport.created_at) >= now - WAITING_FOR,
    ]


def _in_scope(principal: Principal) -> list[ColumnElement[bool]]:
    return [
        col(ProblemReport.organisation_id).in_(
            select(col(Organisation.id)).where(in_scope(principal))
        )
    ]


async def report_problem(
    session: AsyncSession,
    principal: Principal,
    service: str,
    catalogue: ServiceCatalogue = DEFAULT_CATALOGUE,
) -> ProblemReport:
    """The school's report that ``service`` does not work there; reporting it again while it
    waits changes nothing; made while an incident above it names the service, it joins it."""
    school = await session.get(Organisation, principal.organisation_id)
    if school is None or school.kind != OrganisationKind.etablissement:
        raise InvalidInput(
            "Seul un établissement peut signaler un problème.",
            "Only a school can report a problem.",
        )
    (code,) = catalogue.check([service])
    found = await session.execute(
        select(ProblemReport).where(
            col(ProblemReport.organisation_id) == school.id,
            col(ProblemReport.service) == code,
            *_waiting(utcnow()),
        )
    )
    waiting = found.scalars().first()
    if waiting is not None:
        return waiting
    joined = await _open_incident_above(session, school, code)
    if joined is not None:
        found = await session.execute(
            select(ProblemReport).where(
                col(ProblemReport.organisation_id) == school.id,
                col(ProblemReport.notice_id) == joined.id,
            )
        )
        already = found.scalars().first()
        if already is not None:
            return already
    report = ProblemReport(
        organisation_id=row_id(school),
        service=code,
        reported_by_id=principal.operator_id,
        notice_id=joined.id if joined else None,
        linked_at=utcnow() if joined else None,
    )
    session.add(report)
    await session.flush()
    audit(
        session,
        principal,
        "report.create",
        organisation_id=school.id,
        object_type="report",
        object_id=report.id,
        details={"service": code, "notice_id": report.notice_id},
    )
    return report


async def _open_incident_above(
    session: AsyncSession, school: Organisation, code: str
) -> Notice | None:
    """The latest open incident, of the school or above it, that names the service: a report
    made after the académie opened it joins it at once."""
    above = [int(part) for part in school.path.strip("/").split("/") if part]
    rows = await session.execute(
        select(Notice)
        .where(
            col(Notice.organisation_id).in_(above),
            col(Notice.status) != NoticeStatus.resolved,
            col(Notice.is_exercise).is_(False),
        )
        .order_by(col(Notice.id).desc())
    )
    return next((notice for notice in rows.scalars() if code in notice.services), None)


async def waiting_groups(
    session: AsyncSession, principal: Principal, now: datetime | None = None
) -> list[ReportGroup]:
    """The waiting reports in scope per service: how many schools, since when; most first."""
    schools = func.count(func.distinct(col(ProblemReport.organisation_id)))
    rows = await session.execute(
        select(col(ProblemReport.service), schools, func.min(col(ProblemReport.created_at)))
        .where(*_waiting(now or utcnow()), *_in_scope(principal))
        .group_by(col(ProblemReport.service))
        .order_by(schools.desc(), col(ProblemReport.service))
    )
    return [ReportGroup(service, count, as_utc(since)) for service, count, since in rows.all()]


async def open_incident_from_reports(
    session: AsyncSession,
    principal: Principal,
    service: str,
    catalogue: ServiceCatalogue = DEFAULT_CATALOGUE,
) -> Notice:
    """One incident of the operator's organisation for the waiting reports of ``service`` in
    his scope, which get linked to it. A school reports; it does not gather reports."""
    own = await session.get(Organisation, principal.organisation_id)
    if own is None or own.kind == OrganisationKind.etablissement:
        raise Forbidden(
            "Seuls l'académie et les départements ouvrent un incident à partir des signalements.",
            "Only the académie and the départements open an incident from reports.",
        )
    (code,) = catalogue.check([service])
    group = next((g for g in await waiting_groups(session, principal) if g.service == code), None)
    if group is None:
        raise NotFound(
            "Aucun signalement en attente pour ce service.", "No report waiting for this service."
        )
    label = catalogue.label(code, "fr")
    notice = await create_notice(
        session,
        principal,
        NoticeIn(
            organisation_id=principal.organisation_id,
            title=f"{label} : problème signalé par les établissements",
            message=_first_message(label, group),
            services=[code],
        ),
        catalogue,
    )
    linked = await _link_waiting(session, principal, code, row_id(notice))
    audit(
        session,
        principal,
        "report.to_incident",
        organisation_id=principal.organisation_id,
        object_type="notice",
        object_id=notice.id,
        details={"service": code, "reports": linked, "schools": group.schools},
    )
    return notice


def _first_message(label: str, group: ReportGroup) -> str:
    schools = (
        "1 établissement signale"
        if group.schools == 1
        else (f"{group.schools} établissements signalent")
    )
    return (
        f"{schools} un problème {label} depuis {clock(group.since, 'fr')}. "
        "Nous recherchons la cause et publierons une mise à jour."
    )


async def _link_waiting(
    session: AsyncSession, principal: Principal, code: str, notice_id: int
) -> int:
    now = utcnow()
    result = await session.execute(
        update(ProblemReport)
        .where(col(ProblemReport.service) == code, *_waiting(now), *_in_scope(principal))
        .values(notice_id=notice_id, linked_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def reports_of_notice(
    session: AsyncSession, principal: Principal, notice_id: int
) -> list[str]:
    """The names of the schools in scope whose reports went into the incident."""
    rows = await session.execute(
        select(col(Organisation.name))
        .join(ProblemReport, col(ProblemReport.organisation_id) == col(Organisation.id))
        .where(col(ProblemReport.notice_id) == notice_id, *_in_scope(principal))
        .distinct()
        .order_by(col(Organisation.name))
    )
    return list(rows.scalars())


async def own_reports(
    session: AsyncSession, principal: Principal, now: datetime | None = None
) -> list[OwnReport]:
    """The school's reports still waiting, and those whose incident is not resolved, newest
    first; a report linked to an incident shows it, whoever's organisation it belongs to."""
    now = now or utcnow()
    rows = await session.execute(
        select(ProblemReport, Notice)
        .outerjoin(Notice, col(Notice.id) == col(ProblemReport.notice_id))
        .where(col(ProblemReport.organisation_id) == principal.organisation_id)
        .where(
            (
                col(ProblemReport.notice_id).is_(None)
                & (col(ProblemReport.created_at) >= now - WAITING_FOR)
            )
            | (col(Notice.status) != NoticeStatus.resolved)
        )
        .order_by(col(ProblemReport.id).desc())
        .limit(20)
    )
    return [
        OwnReport(report, notice, await _latest(session, notice)) for report, notice in rows.all()
    ]


async def _latest(session: AsyncSession, notice: Notice | None) -> NoticeUpdate | None:
    if notice is None:
        return None
    return await session.scalar(
        select(NoticeUpdate)
        .where(col(NoticeUpdate.notice_id) == notice.id)
        .order_by(col(NoticeUpdate.id).desc())
        .limit(1)
    )

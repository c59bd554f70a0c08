"""What a public status page shows, read from the database in a few queries.

A page belongs to an organisation (an académie, a département, a school by UAI). It shows the
public notices of that organisation, of the organisations above it (inherited: an académie
incident is on every school page beneath it) and of those beneath it (a school's incident is
on its département's and académie's pages), never a neighbour's. Exercises never appear: a
notice marked as one, or a notice any exercise broadcast was sent for. Open incidents come
first, then those resolved in the last 30 days.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.accounts.scoped import covers, in_subtree
from broadcast.broadcasts.models import Broadcast
from broadcast.directory.models import Organisation, OrganisationKind
from broadcast.notices.models import Notice, NoticeStatus, NoticeUpdate

RECENT_DAYS = 30


class Relation(enum.StrEnum):
    own = "own"
    """The page's own organisation's notice."""
    inherited = "inherited"
    """A notice of an organisation above (académie, département): shown on every page beneath."""
    beneath = "beneath"
    """A notice of an organisation beneath (a school, on its académie's page)."""


@dataclass(frozen=True, slots=True)
class OrgRef:
    id: int
    code: str
    name: str
    kind: str
    path: str

    @classmethod
    def of(cls, organisation: Organisation) -> OrgRef:
        return cls(
            organisation.id or 0,
            organisation.code,
            organisation.name,
            organisation.kind,
            organisation.path,
        )


@dataclass(frozen=True, slots=True)
class UpdateView:
    id: int
    status: str
    message: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Incident:
    id: int
    title: str
    status: str
    services: tuple[str, ...]
    organisation: OrgRef
    relation: Relation
    created_at: datetime
    updated_at: datetime
    next_update_at: datetime | None
    updates: tuple[UpdateView, ...]
    """Newest first."""

    @property
    def is_open(self) -> bool:
        return self.status != NoticeStatus.resolved


@dataclass(frozen=True, slots=True)
class StatusPage:
    organisation: OrgRef
    ancestors: tuple[OrgRef, ...]
    """From the top (région académique) down to the parent."""
    children: tuple[OrgRef, ...]
    open: tuple[Incident, ...]
    recent: tuple[Incident, ...]
    updated_at: datetime | None
    """The latest change among the incidents shown; None when there is none."""


@dataclass(frozen=True, slots=True)
class AcademieEntry:
    organisation: OrgRef
    open_incidents: int


def ancestor_ids(path: str) -> list[int]:
    """``/1/4/12/`` -> ``[1, 4, 12]``."""
    return [int(part) for part in path.split("/") if part]


async def organisation_by_code(session: AsyncSession, code: str) -> Organisation | None:
    return await session.scalar(select(Organisation).where(col(Organisation.code) == code))


async def load_page(session: AsyncSession, organisation: Organisation, now: datetime) -> StatusPage:
    org = OrgRef.of(organisation)
    above = ancestor_ids(org.path)[:-1]
    orgs = await _organisations(session, org, above)
    notices = await _notices(session, org, above, now)
    updates = await _updates(session, [n.id or 0 for n in notices])
    incidents = [_incident(n, orgs[n.organisation_id], org, updates) for n in notices]
    incidents.sort(key=lambda i: i.updated_at, reverse=True)
    return StatusPage(
        organisation=org,
        ancestors=tuple(orgs[i] for i in above if i in orgs),
        children=tuple(sorted((o for o in orgs.values() if _is_child(o, org)), key=_by_name)),
        open=tuple(i for i in incidents if i.is_open),
        recent=tuple(i for i in incidents if not i.is_open),
        updated_at=max((i.updated_at for i in incidents), default=None),
    )


def _by_name(org: OrgRef) -> str:
    return org.name


def _is_child(candidate: OrgRef, parent: OrgRef) -> bool:
    return covers(parent.path, candidate.path) and candidate.path.count("/") == (
        parent.path.count("/") + 1
    )


async def _organisations(session: AsyncSession, org: OrgRef, above: list[int]) -> dict[int, OrgRef]:
    """The page's organisation, those above it, and those beneath it."""
    rows = await session.execute(
        select(Organisation).where(
            or_(col(Organisation.id).in_([*above, org.id]), in_subtree(org.path))
        )
    )
    return {row.id or 0: OrgRef.of(row) for row in rows.scalars()}


def public_and_real() -> list[ColumnElement[bool]]:
    """Notices the public may see: marked public, not an exercise, no exercise sent for them."""
    exercise_sent = exists().where(
        col(Broadcast.notice_id) == col(Notice.id), col(Broadcast.is_exercise).is_(True)
    )
    return [col(Notice.public).is_(True), col(Notice.is_exercise).is_(False), ~exercise_sent]


def shown_since(now: datetime) -> ColumnElement[bool]:
    """Open, or resolved in the last 30 days."""
    return or_(
        col(Notice.status) != NoticeStatus.resolved,
        col(Notice.updated_at) >= now - timedelta(days=RECENT_DAYS),
    )


async def _notices(
    session: AsyncSession, org: OrgRef, above: list[int], now: datetime
) -> list[Notice]:
    query = (
        select(Notice)
        .join(Organisation, col(Organisation.id) == col(Notice.organisation_id))
        .where(
            or_(col(Notice.organisation_id).in_(above), in_subtree(org.path)),
            *public_and_real(),
            shown_since(now),
        )
    )
    return list((await session.execute(query)).scalars())


async def _updates(session: AsyncSession, notice_ids: list[int]) -> dict[int, list[UpdateView]]:
    found: dict[int, list[UpdateView]] = {}
    if not notice_ids:
        return found
    rows = await session.execute(
        select(NoticeUpdate)
        .where(col(NoticeUpdate.notice_id).in_(notice_ids))
        .order_by(col(NoticeUpdate.id).desc())
    )
    for u in rows.scalars():
        found.setdefault(u.notice_id, []).append(
            UpdateView(u.id or 0, u.status, u.message, u.created_at)
        )
    return found


def _incident(
    notice: Notice, organisation: OrgRef, page: OrgRef, updates: dict[int, list[UpdateView]]
) -> Incident:
    if organisation.id == page.id:
        relation = Relation.own
    elif covers(organisation.path, page.path):
        relation = Relation.inherited
    else:
        relation = Relation.beneath
    return Incident(
        id=notice.id or 0,
        title=notice.title,
        status=notice.status,
        services=tuple(str(s) for s in notice.services),
        organisation=organisation,
        relation=relation,
        created_at=notice.created_at,
        updated_at=notice.updated_at,
        next_update_at=notice.next_update_at,
        updates=tuple(updates.get(notice.id or 0, [])),
    )


async def load_academies(session: AsyncSession) -> list[AcademieEntry]:
    """Every académie with the number of its open public incidents (its own and beneath)."""
    academies = (
        (
            await session.execute(
                select(Organisation)
                .where(col(Organisation.kind) == OrganisationKind.academie)
                .order_by(col(Organisation.name))
            )
        )
        .scalars()
        .all()
    )
    counts = await _open_counts_by_path(session)
    return [
        AcademieEntry(OrgRef.of(a), sum(n for path, n in counts.items() if covers(a.path, path)))
        for a in academies
    ]


async def _open_counts_by_path(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(col(Organisation.path), func.count(col(Notice.id)))
        .join(Organisation, col(Organisation.id) == col(Notice.organisation_id))
        .where(col(Notice.status) != NoticeStatus.resolved, *public_and_real())
        .group_by(col(Organisation.path))
    )
    return {str(path): int(count) for path, count in rows.all()}


async def affected_organisations(session: AsyncSession, organisation_ids: set[int]) -> list[OrgRef]:
    """Every organisation whose page shows notices of ``organisation_ids``: each of them, those
    above them and those beneath them."""
    changed = (
        (
            await session.execute(
                select(Organisation).where(col(Organisation.id).in_(organisation_ids))
            )
        )
        .scalars()
        .all()
    )
    above = {i for org in changed for i in ancestor_ids(org.path)}
    rows = await session.execute(
        select(Organisation).where(
            or_(col(Organisation.id).in_(above), *(in_subtree(org.path) for org in changed))
        )
    )
    return [OrgRef.of(row) for row in rows.scalars()]


async def all_organisations(session: AsyncSession) -> list[OrgRef]:
    rows = await session.execute(select(Organisation).order_by(col(Organisation.id)))
    return [OrgRef.of(row) for row in rows.scalars()]

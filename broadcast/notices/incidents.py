"""Incidents as the console shows them: open ones first, each with its lifecycle, the timeline
of its updates and who wrote them; and the form's "prochaine mise à jour à 10 h 30", read as a
time of today in Paris. Scoped like every query (RULES A1): outside the scope is not found."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time

from pydantic import ValidationError
from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.accounts.models import Operator
from broadcast.accounts.scoped import in_scope, join_organisation
from broadcast.accounts.service import Principal
from broadcast.core.errors import InvalidInput
from broadcast.core.validation import describe_errors, summary
from broadcast.directory.models import Organisation
from broadcast.notices.models import Notice, NoticeStatus, NoticeUpdate
from broadcast.notices.schemas import UpdateIn
from broadcast.notices.service import get_notice, list_updates
from broadcast.status.timefmt import PARIS, clock

LIFECYCLE_ORDER = (
    NoticeStatus.investigating,
    NoticeStatus.identified,
    NoticeStatus.monitoring,
    NoticeStatus.resolved,
)
_CLOCK = re.compile(r"^\s*(\d{1,2})\s*(?:[:h]\s*(\d{2}))?\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class IncidentLine:
    notice: Notice
    organisation: str

    @property
    def is_open(self) -> bool:
        return self.notice.status != NoticeStatus.resolved


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    update: NoticeUpdate
    author: str


@dataclass(frozen=True, slots=True)
class Incident:
    notice: Notice
    organisation: str
    timeline: list[TimelineEntry]
    """Newest first."""


async def list_incidents(
    session: AsyncSession, principal: Principal, limit: int = 200
) -> list[IncidentLine]:
    """The incidents in scope, the open ones first, the most recently updated first."""
    resolved_last = case((col(Notice.status) == NoticeStatus.resolved, 1), else_=0)
    rows = await session.execute(
        join_organisation(select(Notice, col(Organisation.name)), Notice)
        .where(in_scope(principal))
        .order_by(resolved_last, col(Notice.updated_at).desc(), col(Notice.id).desc())
        .limit(limit)
    )
    return [IncidentLine(notice, name) for notice, name in rows.all()]


async def incident(session: AsyncSession, principal: Principal, notice_id: int) -> Incident:
    notice = await get_notice(session, principal, notice_id)
    organisation = await session.get(Organisation, notice.organisation_id)
    updates = await list_updates(session, notice)
    names = await _author_names(session, {u.created_by_id for u in updates if u.created_by_id})
    timeline = [TimelineEntry(u, names.get(u.created_by_id or 0, "")) for u in reversed(updates)]
    return Incident(notice, organisation.name if organisation else "", timeline)


async def _author_names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.execute(
        select(col(Operator.id), col(Operator.display_name)).where(col(Operator.id).in_(ids))
    )
    return {operator_id or 0: name for operator_id, name in rows.all()}


def next_update_today(text: str, now: datetime) -> datetime | None:
    """``10:30`` or ``10 h 30``: that time today in Paris, in UTC; empty: no commitment.
    A time already past is refused, in French, naming it."""
    if not text.strip():
        return None
    found = _CLOCK.match(text)
    hour, minute = (int(found.group(1)), int(found.group(2) or 0)) if found else (99, 99)
    if hour > 23 or minute > 59:
        raise InvalidInput(
            f"Heure de la prochaine mise à jour illisible : « {text[:20]} ». "
            "Écrivez-la ainsi : 10:30.",
            f"Unreadable time of the next update: “{text[:20]}”. Write it as 10:30.",
        )
    today = now.astimezone(PARIS).date()
    moment = datetime.combine(today, time(hour, minute), tzinfo=PARIS)
    if moment <= now:
        raise InvalidInput(
            f"L'heure de la prochaine mise à jour ({clock(moment, 'fr')}) est déjà passée : "
            "choisissez une heure à venir.",
            f"The time of the next update ({clock(moment, 'en')}) has passed: choose a time ahead.",
        )
    return moment.astimezone(now.tzinfo)


def update_from_form(status: str, message: str, next_update: str, now: datetime) -> UpdateIn:
    """The update form's fields as an :class:`UpdateIn`, or InvalidInput in French."""
    moment = next_update_today(next_update, now)
    try:
        return UpdateIn(status=status, message=message, next_update_at=moment)  # type: ignore[arg-type]
    except ValidationError as invalid:
        details = describe_errors(invalid.errors())
        raise InvalidInput(
            summary(details), summary(describe_errors(invalid.errors(), "en"), "en")
        ) from invalid


def status_from_form(status: str) -> NoticeStatus:
    try:
        return NoticeStatus(status)
    except ValueError:
        raise InvalidInput(
            f"État inconnu : « {status[:20]} ».", f"Unknown status: “{status[:20]}”."
        ) from None

"""Volume caps per scope (RULES A6): recipients and SMS segments per hour and per day.

A send counts in every organisation above it (its own, the département, the académie, the
région): each one whose kind has a cap in ``settings.volume_caps`` must stay under it. What counts
is what is sent or bound to be: broadcasts scheduled, queued, sending, paused or completed, at
their send time (``queued_at``, or ``scheduled_at`` while scheduled), by the estimates recorded at
confirmation. Pending approvals do not count yet: caps are checked again when one is approved.

A send at ``t`` is compared with the others sent within one period either side of ``t``: a
scheduled broadcast later than ``t`` shares an hour with it as much as an earlier one does. With
nothing scheduled ahead, that is plainly the last hour (the last day).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.accounts.scoped import in_subtree, join_organisation
from broadcast.broadcasts.models import Broadcast, BroadcastStatus
from broadcast.core.errors import Conflict
from broadcast.directory.models import Organisation
from broadcast.settings import Settings, VolumeCap

COUNTED = (
    BroadcastStatus.scheduled,
    BroadcastStatus.queued,
    BroadcastStatus.sending,
    BroadcastStatus.paused,
    BroadcastStatus.completed,
)


@dataclass(frozen=True, slots=True)
class Period:
    name_fr: str
    name_en: str
    length: timedelta
    suffix: str

    def limits(self, cap: VolumeCap) -> tuple[int | None, int | None]:
        """(recipients, SMS segments) allowed per this period."""
        return (
            getattr(cap, f"recipients_per_{self.suffix}"),
            getattr(cap, f"sms_segments_per_{self.suffix}"),
        )


PERIODS = (
    Period("heure", "hour", timedelta(hours=1), "hour"),
    Period("jour", "day", timedelta(days=1), "day"),
)


@dataclass(frozen=True, slots=True)
class Usage:
    recipients: int
    sms_segments: int


class CapExceeded(Conflict):
    """409: the request is valid, the volume already sent is what stands in the way; the same
    request succeeds once the period has passed or the cap is raised."""

    code = "cap_exceeded"


async def check_caps(
    session: AsyncSession, settings: Settings, broadcast: Broadcast, at: datetime
) -> None:
    """Raise :class:`CapExceeded` when sending ``broadcast`` at ``at`` would take any
    organisation above it over one of its caps."""
    for organisation in await ancestry(session, broadcast.organisation_id):
        cap = settings.volume_caps.get(organisation.kind)
        if cap is None:
            continue
        used = await usage(session, organisation.path, at, broadcast.id)
        for period in PERIODS:
            _ensure_within(cap, period, used[period], broadcast, organisation)


async def ancestry(session: AsyncSession, organisation_id: int) -> list[Organisation]:
    """The organisation and those above it, nearest first."""
    organisation = await session.get(Organisation, organisation_id)
    assert organisation is not None
    ids = [int(part) for part in organisation.path.strip("/").split("/") if part]
    rows = await session.execute(select(Organisation).where(col(Organisation.id).in_(ids)))
    return sorted(rows.scalars(), key=lambda org: -len(org.path))


async def usage(
    session: AsyncSession, subtree_path: str, at: datetime, excluded_id: int | None
) -> dict[Period, Usage]:
    """Per period, the estimated recipients and SMS segments of the subtree's broadcasts sent
    (or to be sent) within that period either side of ``at``, ``excluded_id`` left out: one
    query for every period."""
    sent_at = func.coalesce(col(Broadcast.queued_at), col(Broadcast.scheduled_at))
    longest = max(period.length for period in PERIODS)
    sums = []
    for period in PERIODS:
        inside = and_(sent_at > at - period.length, sent_at < at + period.length)
        for measure in (col(Broadcast.estimated_recipients), col(Broadcast.estimated_sms_segments)):
            sums.append(func.coalesce(func.sum(case((inside, measure), else_=0)), 0))
    row = (
        await session.execute(
            join_organisation(select(*sums), Broadcast).where(
                in_subtree(subtree_path),
                col(Broadcast.status).in_(COUNTED),
                col(Broadcast.id) != (excluded_id or 0),
                sent_at > at - longest,
                sent_at < at + longest,
            )
        )
    ).one()
    return {period: Usage(int(row[2 * n]), int(row[2 * n + 1])) for n, period in enumerate(PERIODS)}


def _ensure_within(
    cap: VolumeCap, period: Period, used: Usage, broadcast: Broadcast, organisation: Organisation
) -> None:
    max_recipients, max_segments = period.limits(cap)
    wanted = Usage(broadcast.estimated_recipients, broadcast.estimated_sms_segments)
    if max_recipients is not None and used.recipients + wanted.recipients > max_recipients:
        raise _exceeded(
            "destinataires",
            "recipients",
            period,
            organisation,
            used.recipients,
            wanted.recipients,
            max_recipients,
        )
    if max_segments is not None and used.sms_segments + wanted.sms_segments > max_segments:
        raise _exceeded(
            "segments SMS",
            "SMS segments",
            period,
            organisation,
            used.sms_segments,
            wanted.sms_segments,
            max_segments,
        )


def _exceeded(
    measure_fr: str,
    measure_en: str,
    period: Period,
    organisation: Organisation,
    used: int,
    wanted: int,
    limit: int,
) -> CapExceeded:
    return CapExceeded(
        f"Envoi refusé : plafond de {limit} {measure_fr} par {period.name_fr} atteint pour "
        f"« {organisation.name} » ({used} déjà envoyés ou programmés, {wanted} demandés). "
        "Rien n'a été envoyé ; réessayez plus tard ou réduisez l'audience.",
        f"Send refused: the cap of {limit} {measure_en} per {period.name_en} for "
        f"{organisation.name} is reached ({used} already sent or scheduled, {wanted} requested). "
        "Nothing was sent; try later or narrow the audience.",
        details={
            "organisation_id": organisation.id,
            "measure": measure_en.replace(" ", "_").lower(),
            "period": period.name_en,
            "limit": limit,
            "used": used,
            "requested": wanted,
        },
    )


@dataclass(frozen=True, slots=True)
class CapLeft:
    """What one organisation's cap still allows over one period, before this send."""

    organisation: str
    period_fr: str
    period_en: str
    recipients_left: int | None
    sms_segments_left: int | None


async def caps_left(
    session: AsyncSession,
    settings: Settings,
    broadcast: Broadcast,
    at: datetime,
    visible: Callable[[Organisation], bool],
) -> list[CapLeft]:
    """Per capped organisation above ``broadcast`` that ``visible`` lets the reader see (his
    own scope: another school's usage is none of a head teacher's business), and per period,
    the recipients and SMS segments left before its cap."""
    result = []
    for organisation in await ancestry(session, broadcast.organisation_id):
        cap = settings.volume_caps.get(organisation.kind)
        if cap is None or not visible(organisation):
            continue
        used = await usage(session, organisation.path, at, broadcast.id)
        for period in PERIODS:
            max_recipients, max_segments = period.limits(cap)
            result.append(
                CapLeft(
                    organisation.name,
                    period.name_fr,
                    period.name_en,
                    _left(max_recipients, used[period].recipients),
                    _left(max_segments, used[period].sms_segments),
                )
            )
    return result


def _left(limit: int | None, used: int) -> int | None:
    return None if limit is None else max(limit - used, 0)

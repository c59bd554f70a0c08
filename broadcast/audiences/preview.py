"""Audience counts before sending: recipients per channel and who is left out, and why.

Recipients are also counted per locale (the locale of the first contact point of each address, the
one the planner keeps), for the SMS estimate of :mod:`broadcast.broadcasts.estimates`; the service
fills in the estimate and the expected durations, which need the settings.
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from broadcast.audiences.criteria import (
    AudienceCriteria,
    matching_contacts,
    matching_points,
    point_is_suppressed,
)
from broadcast.broadcasts.estimates import SmsEstimate


class Excluded(BaseModel):
    suppressed: int
    duplicate: int
    no_address: int


class ChannelPreview(BaseModel):
    """``contact_points = recipients + excluded.suppressed + excluded.duplicate``, and
    ``recipients = sum(recipients_by_locale.values())``.

    ``expected_duration_s`` is None when the channel has no configured rate (unlimited) or the
    preview was computed without settings."""

    channel: str
    recipients: int
    contact_points: int
    excluded: Excluded
    recipients_by_locale: dict[str, int] = Field(default_factory=dict)
    expected_duration_s: float | None = None
    expected_duration: str | None = None


class AudiencePreview(BaseModel):
    contacts: int
    channels: list[ChannelPreview]
    sms: SmsEstimate | None = None

    @property
    def total_recipients(self) -> int:
        return sum(c.recipients for c in self.channels)


async def preview_audience(
    session: AsyncSession, criteria: AudienceCriteria, paths: list[str], channels: list[str]
) -> AudiencePreview:
    contacts = await session.scalar(
        select(func.count()).select_from(matching_contacts(criteria, paths).subquery())
    )
    points = (
        matching_points(criteria, paths, channels, unsuppressed=False)
        .add_columns(point_is_suppressed().label("suppressed"))
        .subquery()
    )
    suppressed = points.c.suppressed
    rows = (
        await session.execute(
            select(
                points.c.channel,
                func.count(),
                func.sum(case((suppressed, 1), else_=0)),
                func.count(func.distinct(case((~suppressed, points.c.address)))),
                func.count(func.distinct(points.c.contact_id)),
            ).group_by(points.c.channel)
        )
    ).all()
    by_channel = {row[0]: row[1:] for row in rows}
    by_locale = await _recipients_by_locale(session, criteria, paths, channels)
    previews = [_channel_preview(c, by_channel.get(c), contacts or 0) for c in channels]
    for channel_preview in previews:
        channel_preview.recipients_by_locale = by_locale.get(channel_preview.channel, {})
    return AudiencePreview(contacts=contacts or 0, channels=previews)


async def _recipients_by_locale(
    session: AsyncSession, criteria: AudienceCriteria, paths: list[str], channels: list[str]
) -> dict[str, dict[str, int]]:
    """Channel -> locale -> distinct unsuppressed addresses, each counted once, in the locale of
    its first contact point (lowest id: the one the planner turns into the delivery)."""
    live = matching_points(criteria, paths, channels, unsuppressed=True).subquery()
    ranked = select(
        live.c.channel,
        live.c.locale,
        func.row_number()
        .over(partition_by=(live.c.channel, live.c.address), order_by=live.c.id)
        .label("rank"),
    ).subquery()
    rows = (
        await session.execute(
            select(ranked.c.channel, ranked.c.locale, func.count())
            .where(ranked.c.rank == 1)
            .group_by(ranked.c.channel, ranked.c.locale)
        )
    ).all()
    result: dict[str, dict[str, int]] = {}
    for channel, locale, count in rows:
        result.setdefault(channel, {})[locale] = count
    return result


def _channel_preview(
    channel: str, counts: tuple[int, int, int, int] | None, contacts: int
) -> ChannelPreview:
    total, suppressed, recipients, reachable_contacts = counts or (0, 0, 0, 0)
    return ChannelPreview(
        channel=channel,
        recipients=recipients,
        contact_points=total,
        excluded=Excluded(
            suppressed=suppressed or 0,
            duplicate=total - (suppressed or 0) - recipients,
            no_address=contacts - reachable_contacts,
        ),
    )

"""Audience counts before sending: recipients per channel and who is left out, and why."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from broadcast.audiences.criteria import (
    AudienceCriteria,
    matching_contacts,
    matching_points,
    point_is_suppressed,
)


class Excluded(BaseModel):
    suppressed: int
    duplicate: int
    no_address: int


class ChannelPreview(BaseModel):
    """``contact_points = recipients + excluded.suppressed + excluded.duplicate``."""

    channel: str
    recipients: int
    contact_points: int
    excluded: Excluded


class AudiencePreview(BaseModel):
    contacts: int
    channels: list[ChannelPreview]

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
    return AudiencePreview(
        contacts=contacts or 0,
        channels=[_channel_preview(c, by_channel.get(c), contacts or 0) for c in channels],
    )


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

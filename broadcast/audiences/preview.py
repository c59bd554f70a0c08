"""Audience counts before sending: recipients per channel and who is left out, and why.

Per channel, every *matched* entry is either sent to or excluded for exactly one reason::

    matched = recipients + suppressed + duplicate + no_address + left (+ served_earlier)

where an entry is one contact point of a current contact on the channel, one current contact with
no address on the channel, or one contact who left the school (``left_at`` set) but whom the
criteria match otherwise. ``duplicate`` counts the extra contact points whose address is already
reached through another contact; ``suppressed`` the points whose address is suppressed. In
first-available mode, ``served_earlier`` counts the current contacts reached on an earlier channel
of the broadcast (their addresses on this channel are not used); it is filled in by
:func:`broadcast.broadcasts.sources.preview_recipients`.

Recipients are also counted per locale (the locale of the first contact point of each address, the
one the planner keeps), for the SMS estimate of :mod:`broadcast.broadcasts.estimates`; the service
fills in the estimate and the expected durations, which need the settings.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, computed_field
from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.audiences.criteria import (
    AudienceCriteria,
    matching_contacts,
    matching_points,
    point_is_suppressed,
)
from broadcast.broadcasts.estimates import SmsEstimate
from broadcast.core.masking import address_tag, mask_address
from broadcast.directory.models import Contact, ContactPoint

SAMPLE_SIZE = 5


class Excluded(BaseModel):
    suppressed: int
    duplicate: int
    no_address: int
    left: int = 0


class SampleRecipient(BaseModel):
    """One recipient as the preview shows it: the address masked (RULES R5), no name."""

    address: str
    address_tag: str
    """Tells apart addresses whose masked forms are alike (see :func:`~broadcast.core.masking.
    address_tag`)."""
    role: str
    level: str | None
    locale: str


class ChannelPreview(BaseModel):
    """``matched = recipients + excluded.suppressed + excluded.duplicate + excluded.no_address
    + excluded.left + served_earlier``;
    ``contact_points = recipients + excluded.suppressed + excluded.duplicate`` (the addresses of
    current contacts); ``recipients = sum(recipients_by_locale.values())``.

    ``expected_duration_s`` is None when the channel has no configured rate (unlimited) or the
    preview was computed without settings."""

    channel: str
    recipients: int
    contact_points: int
    excluded: Excluded
    matched: int = 0
    served_earlier: int = 0
    """First-available mode: contacts reached on an earlier channel of the broadcast."""
    recipients_by_locale: dict[str, int] = Field(default_factory=dict)
    samples: list[SampleRecipient] = Field(default_factory=list)
    expected_duration_s: float | None = None
    expected_duration: str | None = None


class AudiencePreview(BaseModel):
    """``contacts``: current contacts matched (people); ``left_contacts``: those matched but
    gone; ``deliveries``: the messages a broadcast would send, one per address and channel. A
    broadcast shows the same two numbers as ``estimated_contacts`` and ``estimated_deliveries``."""

    contacts: int
    left_contacts: int = 0
    channels: list[ChannelPreview]
    sms: SmsEstimate | None = None
    approval_reasons: list[str] = Field(default_factory=list)
    """Why confirming this broadcast would make it wait for a second operator (RULES A6), as
    codes: ``audience_above_school``, ``recipients``, ``sms_segments``, ``cost``; empty when it
    would go out at once. Filled by the broadcast preview."""
    approval_messages: list[str] = Field(default_factory=list)
    """The same reasons as French sentences, in the same order."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def deliveries(self) -> int:
        return sum(c.recipients for c in self.channels)


async def preview_audience(
    session: AsyncSession,
    criteria: AudienceCriteria,
    paths: list[str],
    channels: list[str],
    *,
    points_filter: ColumnElement[bool] | None = None,
) -> AudiencePreview:
    """``points_filter``: a further condition on the contact points, the one the broadcast's
    delivery mode puts on them (see :mod:`broadcast.broadcasts.sources`)."""
    contacts, left = await _count_contacts(session, criteria, paths)
    by_channel = await _count_points(session, criteria, paths, channels, points_filter)
    by_locale = await _recipients_by_locale(session, criteria, paths, channels, points_filter)
    previews = [_channel_preview(c, by_channel.get(c), contacts, left) for c in channels]
    for channel_preview in previews:
        channel_preview.recipients_by_locale = by_locale.get(channel_preview.channel, {})
        channel_preview.samples = await _samples(
            session, criteria, paths, channel_preview.channel, points_filter
        )
    return AudiencePreview(contacts=contacts, left_contacts=left, channels=previews)


async def _count_contacts(
    session: AsyncSession, criteria: AudienceCriteria, paths: list[str]
) -> tuple[int, int]:
    """Current contacts matched, and contacts matched but for having left, in one pass."""
    matched = (
        matching_contacts(criteria, paths, include_left=True)
        .add_columns(col(Contact.left_at).is_not(None).label("gone"))
        .subquery()
    )
    current, left = (
        await session.execute(
            select(
                func.sum(case((matched.c.gone, 0), else_=1)),
                func.sum(case((matched.c.gone, 1), else_=0)),
            )
        )
    ).one()
    return int(current or 0), int(left or 0)


def _points(
    criteria: AudienceCriteria,
    paths: list[str],
    channels: list[str],
    points_filter: ColumnElement[bool] | None,
    *,
    unsuppressed: bool,
) -> Select[Any]:
    points = matching_points(criteria, paths, channels, unsuppressed=unsuppressed)
    return points if points_filter is None else points.where(points_filter)


async def _count_points(
    session: AsyncSession,
    criteria: AudienceCriteria,
    paths: list[str],
    channels: list[str],
    points_filter: ColumnElement[bool] | None = None,
) -> dict[str, tuple[Any, ...]]:
    """Channel -> (contact points, suppressed, distinct sendable addresses, contacts with an
    address on the channel)."""
    points = (
        _points(criteria, paths, channels, points_filter, unsuppressed=False)
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
    return {row[0]: tuple(row[1:]) for row in rows}


async def _recipients_by_locale(
    session: AsyncSession,
    criteria: AudienceCriteria,
    paths: list[str],
    channels: list[str],
    points_filter: ColumnElement[bool] | None = None,
) -> dict[str, dict[str, int]]:
    """Channel -> locale -> distinct unsuppressed addresses, each counted once, in the locale of
    its first contact point (lowest id: the one the planner turns into the delivery)."""
    live = _points(criteria, paths, channels, points_filter, unsuppressed=True).subquery()
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


async def _samples(
    session: AsyncSession,
    criteria: AudienceCriteria,
    paths: list[str],
    channel: str,
    points_filter: ColumnElement[bool] | None = None,
) -> list[SampleRecipient]:
    """The first few sendable recipients of ``channel``, masked."""
    rows = (
        await session.execute(
            _points(criteria, paths, [channel], points_filter, unsuppressed=True)
            .add_columns(col(Contact.role), col(Contact.level))
            .order_by(col(ContactPoint.id))
            .limit(SAMPLE_SIZE)
        )
    ).all()
    return [
        SampleRecipient(
            address=mask_address(channel, row.address),
            address_tag=address_tag(row.contact_id, channel, row.address),
            role=row.role,
            level=row.level,
            locale=row.locale,
        )
        for row in rows
    ]


def _channel_preview(
    channel: str, counts: tuple[Any, ...] | None, contacts: int, left: int
) -> ChannelPreview:
    total, suppressed, recipients, reachable_contacts = counts or (0, 0, 0, 0)
    suppressed = int(suppressed or 0)
    no_address = contacts - reachable_contacts
    return ChannelPreview(
        channel=channel,
        recipients=recipients,
        contact_points=total,
        matched=total + no_address + left,
        excluded=Excluded(
            suppressed=suppressed,
            duplicate=total - suppressed - recipients,
            no_address=no_address,
            left=left,
        ),
    )

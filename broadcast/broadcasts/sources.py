"""Where a broadcast's addresses come from, for the planner and the preview alike.

- An audience: criteria over the directory, on every selected channel, or in ``first_available``
  mode only on the first channel (in the broadcast's order) where each contact has an
  unsuppressed address (every address of that channel: a contact with two emails gets both).
- A follow-up: the Delivery rows the earlier broadcast planned, as they were then (no one new,
  no one missed), minus what has been suppressed since.
- An exercise with a seed list: those addresses only; its audience is not used for delivery.

The first two are SELECTs of (id, channel, address, contact_id, locale) with a unique id that
the planner pages through (keyset); the seed list is small and planned in one statement.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from broadcast.audiences.criteria import AudienceCriteria, matching_contacts, matching_points
from broadcast.audiences.preview import (
    AudiencePreview,
    ChannelPreview,
    Excluded,
    preview_audience,
)
from broadcast.broadcasts.models import Broadcast, DeliveryMode
from broadcast.deliveries.models import Delivery
from broadcast.directory.models import Contact, ContactPoint, Suppression


def uses_seed_list(broadcast: Broadcast) -> bool:
    return broadcast.is_exercise and bool(broadcast.exercise_addresses)


def is_suppressed(channel: Any, address: Any) -> ColumnElement[bool]:
    """True where ``address`` is suppressed on ``channel`` (columns of any table)."""
    return (
        select(col(Suppression.id))
        .where(col(Suppression.channel) == channel, col(Suppression.address) == address)
        .exists()
    )


def first_available_only(channels: list[str]) -> ColumnElement[bool]:
    """True for a contact point whose contact has no unsuppressed address on an earlier channel
    of ``channels``: the point is on the first channel available to its contact (or, when
    suppressed itself, on a channel the contact would have been tried on)."""
    earlier = aliased(ContactPoint)

    def rank(channel: Any) -> Any:
        return case({name: position for position, name in enumerate(channels)}, value=channel)

    earlier_first = (
        select(col(earlier.id))
        .where(
            col(earlier.contact_id) == col(ContactPoint.contact_id),
            col(earlier.channel).in_(channels),
            rank(col(earlier.channel)) < rank(col(ContactPoint.channel)),
            ~is_suppressed(col(earlier.channel), col(earlier.address)),
        )
        .exists()
    )
    return ~earlier_first


def audience_filter(broadcast: Broadcast) -> ColumnElement[bool] | None:
    """The extra condition the delivery mode puts on the audience's contact points."""
    if broadcast.delivery_mode == DeliveryMode.first_available and len(broadcast.channels) > 1:
        return first_available_only(broadcast.channels)
    return None


def audience_points(
    broadcast: Broadcast, criteria: AudienceCriteria, paths: list[str]
) -> tuple[Select[Any], Any]:
    """The audience's unsuppressed contact points after the cursor, and their keyset column."""
    points = matching_points(criteria, paths, broadcast.channels, unsuppressed=True).where(
        col(ContactPoint.id) > broadcast.fanout_cursor
    )
    extra = audience_filter(broadcast)
    if extra is not None:
        points = points.where(extra)
    return points, col(ContactPoint.id)


def earlier_deliveries(broadcast: Broadcast, *, unsuppressed: bool) -> Select[*tuple[Any, ...]]:
    """The earlier broadcast's deliveries on this broadcast's channels."""
    query: Select[*tuple[Any, ...]] = select(
        col(Delivery.id),
        col(Delivery.channel),
        col(Delivery.address),
        col(Delivery.contact_id),
        col(Delivery.locale),
    ).where(
        col(Delivery.broadcast_id) == broadcast.follow_up_of_id,
        col(Delivery.channel).in_(broadcast.channels),
    )
    if unsuppressed:
        query = query.where(~is_suppressed(col(Delivery.channel), col(Delivery.address)))
    return query


def follow_up_points(broadcast: Broadcast) -> tuple[Select[Any], Any]:
    points = earlier_deliveries(broadcast, unsuppressed=True).where(
        col(Delivery.id) > broadcast.fanout_cursor
    )
    return points, col(Delivery.id)


async def seed_addresses(session: AsyncSession, broadcast: Broadcast) -> list[tuple[str, str]]:
    """The seed list's (channel, address) pairs on the broadcast's channels, unsuppressed."""
    wanted = {
        (entry["channel"], entry["address"])
        for entry in broadcast.exercise_addresses
        if entry["channel"] in broadcast.channels
    }
    suppressed = await _suppressed_among(session, wanted)
    return sorted(wanted - suppressed)


async def _suppressed_among(
    session: AsyncSession, pairs: set[tuple[str, str]]
) -> set[tuple[str, str]]:
    if not pairs:
        return set()
    rows = await session.execute(
        select(col(Suppression.channel), col(Suppression.address)).where(
            col(Suppression.address).in_({address for _, address in pairs})
        )
    )
    return {(channel, address) for channel, address in rows.all()} & pairs


async def preview_recipients(
    session: AsyncSession, broadcast: Broadcast, criteria: AudienceCriteria, paths: list[str]
) -> AudiencePreview:
    """Counts per channel of exactly what the planner will plan for this broadcast."""
    if uses_seed_list(broadcast):
        return await _seed_preview(session, broadcast)
    if broadcast.follow_up_of_id is not None:
        return await _follow_up_preview(session, broadcast)
    result = await preview_audience(
        session, criteria, paths, broadcast.channels, points_filter=audience_filter(broadcast)
    )
    if audience_filter(broadcast) is not None:
        await _count_served_earlier(session, broadcast.channels, criteria, paths, result)
    return result


async def _count_served_earlier(
    session: AsyncSession,
    channels: list[str],
    criteria: AudienceCriteria,
    paths: list[str],
    result: AudiencePreview,
) -> None:
    """First-available mode: the contacts of each channel after the first that an earlier
    channel reaches are not "without address" there but served earlier."""
    for position, preview in enumerate(result.channels[1:], start=1):
        served = await session.scalar(
            select(func.count()).select_from(
                matching_contacts(criteria, paths)
                .where(_has_usable_point_on(channels[:position]))
                .subquery()
            )
        )
        preview.served_earlier = int(served or 0)
        preview.excluded.no_address -= preview.served_earlier


def _has_usable_point_on(channels: list[str]) -> ColumnElement[bool]:
    point = aliased(ContactPoint)
    return (
        select(col(point.id))
        .where(
            col(point.contact_id) == col(Contact.id),
            col(point.channel).in_(channels),
            ~is_suppressed(col(point.channel), col(point.address)),
        )
        .exists()
    )


async def _seed_preview(session: AsyncSession, broadcast: Broadcast) -> AudiencePreview:
    wanted = {
        (e["channel"], e["address"])
        for e in broadcast.exercise_addresses
        if e["channel"] in broadcast.channels
    }
    suppressed = await _suppressed_among(session, wanted)
    channels = []
    for channel in broadcast.channels:
        total = sum(1 for c, _ in wanted if c == channel)
        excluded = sum(1 for c, _ in suppressed if c == channel)
        recipients = total - excluded
        channels.append(
            ChannelPreview(
                channel=channel,
                recipients=recipients,
                contact_points=total,
                matched=total,
                excluded=Excluded(suppressed=excluded, duplicate=0, no_address=0),
                recipients_by_locale={"fr": recipients} if recipients else {},
            )
        )
    return AudiencePreview(contacts=0, channels=channels)


async def _follow_up_preview(session: AsyncSession, broadcast: Broadcast) -> AudiencePreview:
    """The earlier broadcast's planned addresses, counted as any preview counts (``matched =
    recipients + suppressed + no_address``): a contact planned on another channel only has no
    address on this one."""
    rows = earlier_deliveries(broadcast, unsuppressed=False).subquery()
    suppressed = is_suppressed(rows.c.channel, rows.c.address)
    contacts = await session.scalar(select(func.count(func.distinct(rows.c.contact_id))))
    counts = {
        channel: (total, int(excluded or 0), reached)
        for channel, total, excluded, reached in (
            await session.execute(
                select(
                    rows.c.channel,
                    func.count(),
                    func.sum(case((suppressed, 1), else_=0)),
                    func.count(func.distinct(rows.c.contact_id)),
                ).group_by(rows.c.channel)
            )
        ).all()
    }
    by_locale = await _follow_up_locales(session, broadcast)
    channels = []
    for channel in broadcast.channels:
        total, excluded, reached = counts.get(channel, (0, 0, 0))
        no_address = max((contacts or 0) - reached, 0)
        channels.append(
            ChannelPreview(
                channel=channel,
                recipients=total - excluded,
                contact_points=total,
                matched=total + no_address,
                excluded=Excluded(suppressed=excluded, duplicate=0, no_address=no_address),
                recipients_by_locale=by_locale.get(channel, {}),
            )
        )
    return AudiencePreview(contacts=contacts or 0, channels=channels)


async def _follow_up_locales(
    session: AsyncSession, broadcast: Broadcast
) -> dict[str, dict[str, int]]:
    live = earlier_deliveries(broadcast, unsuppressed=True).subquery()
    rows = await session.execute(
        select(live.c.channel, live.c.locale, func.count()).group_by(live.c.channel, live.c.locale)
    )
    result: dict[str, dict[str, int]] = {}
    for channel, locale, count in rows.all():
        result.setdefault(channel, {})[locale] = count
    return result

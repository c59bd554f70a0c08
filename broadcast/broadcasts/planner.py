"""Fan-out: turn a queued broadcast's audience into delivery rows and dispatch jobs.

The audience is walked by contact point id in chunks (keyset paging). Each chunk is one
transaction that inserts its deliveries with ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``
(RULES D1: a re-planned chunk inserts nothing) and moves ``fanout_cursor`` forward. Dispatch
jobs are enqueued after that commit, from ``dispatch_cursor``; a crash anywhere resumes from the
two cursors and plans nothing twice (D3).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.audiences.criteria import AudienceCriteria
from broadcast.broadcasts.models import Broadcast, BroadcastStatus
from broadcast.broadcasts.sources import (
    audience_points,
    follow_up_points,
    seed_addresses,
    uses_seed_list,
)
from broadcast.core.db import SessionFactory, transaction
from broadcast.core.dbtypes import UtcDateTime
from broadcast.core.sqlutil import (
    analysed_rows,
    insert_ignoring_conflicts,
    refresh_statistics,
)
from broadcast.core.timeutil import utcnow
from broadcast.core.uow import Enqueuer, enqueue_after_commit
from broadcast.deliveries.ledger import complete_if_done
from broadcast.deliveries.models import Delivery, DeliveryStatus
from broadcast.directory.models import Organisation
from broadcast.jobs import DispatchBatch, dispatch_job

log = logging.getLogger(__name__)

ENQUEUE_PAGE = 5000
ACTIVE = (BroadcastStatus.queued, BroadcastStatus.sending)


@dataclass(frozen=True, slots=True)
class PlannerSettings:
    chunk_size: int
    batch_size: int
    analyze_from: int = 10_000
    """The ledger's statistics are refreshed once this many deliveries of a broadcast are
    planned, and a tenth of the ledger as last analysed (autovacuum's own measure of a change
    that matters), then each time that number doubles (seven times for a million in an empty
    ledger; never for an urgent notice to one school in a ledger of millions)."""


async def run_fanout(
    factory: SessionFactory, queue: Enqueuer, settings: PlannerSettings, broadcast_id: int
) -> Broadcast | None:
    """Plan every chunk of the broadcast's audience, then hand the deliveries to dispatch.

    The first chunk is one dispatch batch: its messages leave while the rest is planned (a
    chunk of 10,000 rows took a second on a loaded database before the first message left).
    The broadcast when the fan-out itself completed it: its messages had all left before the
    last chunk was planned, so no dispatch job saw it fully planned."""
    size = min(settings.chunk_size, settings.batch_size)
    planned, analyze_at = 0, await _first_analysis_at(factory, settings.analyze_from)
    while (chunk := await _plan_one_chunk(factory, broadcast_id, size)).more:
        planned += chunk.planned
        if planned >= analyze_at:
            await _refresh_ledger_statistics(factory)
            analyze_at = 2 * planned
        await enqueue_pending_batches(factory, queue, broadcast_id, settings.batch_size)
        size = settings.chunk_size
    await enqueue_pending_batches(factory, queue, broadcast_id, settings.batch_size)
    async with transaction(factory, queue) as session:
        return await complete_if_done(session, broadcast_id)


@dataclass(frozen=True, slots=True)
class _Chunk:
    planned: int
    more: bool
    """False once the audience is exhausted or the broadcast stopped."""


async def _plan_one_chunk(factory: SessionFactory, broadcast_id: int, chunk_size: int) -> _Chunk:
    async with transaction(factory) as session:
        broadcast = await session.get(Broadcast, broadcast_id, with_for_update=True)
        if broadcast is None or broadcast.status not in ACTIVE or broadcast.fanout_done:
            return _Chunk(0, more=False)
        broadcast.status = BroadcastStatus.sending
        planned = await plan_chunk(session, broadcast, chunk_size)
        log.info("broadcast %s: planned %s deliveries", broadcast_id, planned)
        return _Chunk(planned, more=not broadcast.fanout_done)


async def _first_analysis_at(factory: SessionFactory, analyze_from: int) -> int:
    async with transaction(factory) as session:
        return max(analyze_from, await analysed_rows(session, "delivery") // 10)


async def _refresh_ledger_statistics(factory: SessionFactory) -> None:
    """Dispatch reads each batch by its id range; planned on statistics taken before the
    broadcast existed, PostgreSQL read the whole broadcast instead (10 to 30 ms a batch at
    100,000 rows, a third of its time in the fan-out bench)."""
    async with transaction(factory) as session:
        await refresh_statistics(session, "delivery")


async def _audience(
    session: AsyncSession, broadcast: Broadcast
) -> tuple[list[str], AudienceCriteria]:
    criteria = AudienceCriteria.model_validate(broadcast.audience)
    paths = (
        (
            await session.execute(
                select(col(Organisation.path)).where(
                    col(Organisation.id).in_(criteria.organisation_ids)
                )
            )
        )
        .scalars()
        .all()
    )
    return list(paths), criteria


_COLUMNS = [
    "broadcast_id",
    "channel",
    "address",
    "contact_id",
    "locale",
    "status",
    "attempts",
    "created_at",
    "updated_at",
]


async def plan_chunk(session: AsyncSession, broadcast: Broadcast, chunk_size: int) -> int:
    """Insert the deliveries of the next chunk of the broadcast's source and advance the cursor.

    On PostgreSQL the source query runs once per chunk (a data-modifying CTE returns the
    chunk's bound and the rows inserted); SQLite has no INSERT in WITH, so it runs twice."""
    if uses_seed_list(broadcast):
        broadcast.fanout_done = True
        return await _insert_seed_list(session, broadcast)
    points, key = await _source(session, broadcast)
    if session.get_bind().dialect.name == "postgresql":
        bound, planned = await _insert_chunk_at_once(session, broadcast, points, key, chunk_size)
    else:
        bound, planned = await _insert_chunk_in_two(session, broadcast, points, key, chunk_size)
    if bound is None:
        broadcast.fanout_done = True
        return 0
    broadcast.fanout_cursor = bound
    return planned


async def _source(session: AsyncSession, broadcast: Broadcast) -> tuple[Select[Any], Any]:
    """The rows still to plan (id, channel, address, contact_id, locale) and their keyset column:
    the earlier broadcast's deliveries for a follow-up, the audience's contact points otherwise."""
    if broadcast.follow_up_of_id is not None:
        return follow_up_points(broadcast)
    paths, criteria = await _audience(session, broadcast)
    return audience_points(broadcast, criteria, paths)


async def _insert_seed_list(session: AsyncSession, broadcast: Broadcast) -> int:
    now = utcnow()
    rows = [
        dict(
            zip(
                _COLUMNS,
                (broadcast.id, channel, address, None, "fr", "queued", 0, now, now),
                strict=True,
            )
        )
        for channel, address in await seed_addresses(session, broadcast)
    ]
    if not rows:
        return 0
    result = await session.execute(insert_ignoring_conflicts(session, Delivery), rows)
    return max(getattr(result, "rowcount", 0), 0)


def _deliveries_from(broadcast: Broadcast, rows: Any) -> Select[Any]:
    now = utcnow()
    return select(
        literal(broadcast.id),
        rows.c.channel,
        rows.c.address,
        rows.c.contact_id,
        rows.c.locale,
        literal(DeliveryStatus.queued.value),
        literal(0),
        literal(now, UtcDateTime()),
        literal(now, UtcDateTime()),
    ).order_by(rows.c.id)


async def _insert_chunk_at_once(
    session: AsyncSession, broadcast: Broadcast, points: Select[Any], key: Any, chunk_size: int
) -> tuple[int | None, int]:
    chunk = points.order_by(key).limit(chunk_size).cte("chunk")
    inserted = (
        insert_ignoring_conflicts(session, Delivery)
        .from_select(_COLUMNS, _deliveries_from(broadcast, chunk))
        .returning(col(Delivery.id))
        .cte("inserted")
    )
    bound, planned = (
        await session.execute(
            select(
                select(func.max(chunk.c.id)).scalar_subquery(),
                select(func.count()).select_from(inserted).scalar_subquery(),
            )
        )
    ).one()
    return bound, int(planned)


async def _insert_chunk_in_two(
    session: AsyncSession, broadcast: Broadcast, points: Select[Any], key: Any, chunk_size: int
) -> tuple[int | None, int]:
    chunk = points.order_by(key).limit(chunk_size).subquery()
    bound = await session.scalar(select(func.max(chunk.c.id)))
    if bound is None:
        return None, 0
    rows = points.where(key <= bound).subquery()
    result = await session.execute(
        insert_ignoring_conflicts(session, Delivery).from_select(
            _COLUMNS, _deliveries_from(broadcast, rows)
        )
    )
    return bound, max(getattr(result, "rowcount", 0), 0)


def group_into_batches(
    broadcast_id: int, rows: Iterable[tuple[int, str]], batch_size: int
) -> list[DispatchBatch]:
    """Split (delivery id, channel) rows, in id order, into per-channel batches of ids."""
    open_batches: dict[str, list[int]] = {}
    batches: list[DispatchBatch] = []
    for delivery_id, channel in rows:
        ids = open_batches.setdefault(channel, [])
        ids.append(delivery_id)
        if len(ids) == batch_size:
            batches.append(DispatchBatch(broadcast_id, channel, ids[0], ids[-1]))
            open_batches[channel] = []
    batches.extend(
        DispatchBatch(broadcast_id, channel, ids[0], ids[-1])
        for channel, ids in open_batches.items()
        if ids
    )
    return batches


async def enqueue_pending_batches(
    factory: SessionFactory, queue: Enqueuer, broadcast_id: int, batch_size: int
) -> int:
    """Enqueue dispatch jobs for deliveries past ``dispatch_cursor``, then move the cursor past
    them; returns how many jobs."""
    enqueued = 0
    while True:
        async with transaction(factory, queue) as session:
            broadcast = await session.get(Broadcast, broadcast_id)
            if broadcast is None or broadcast.status not in ACTIVE:
                return enqueued
            rows = await _undispatched(session, broadcast, ENQUEUE_PAGE)
            batches = group_into_batches(broadcast_id, rows, batch_size)
            enqueue_after_commit(session, *(dispatch_job(b, broadcast.priority) for b in batches))
        if not rows:
            return enqueued
        enqueued += len(batches)
        async with transaction(factory) as session:
            await _advance_dispatch_cursor(session, broadcast_id, rows[-1][0])


async def _undispatched(
    session: AsyncSession, broadcast: Broadcast, limit: int
) -> Sequence[tuple[int, str]]:
    rows = await session.execute(
        select(col(Delivery.id), col(Delivery.channel))
        .where(
            col(Delivery.broadcast_id) == broadcast.id, col(Delivery.id) > broadcast.dispatch_cursor
        )
        .order_by(col(Delivery.id))
        .limit(limit)
    )
    return [(int(delivery_id or 0), str(channel)) for delivery_id, channel in rows.all()]


async def _advance_dispatch_cursor(session: AsyncSession, broadcast_id: int, cursor: int) -> None:
    broadcast = await session.get(Broadcast, broadcast_id, with_for_update=True)
    if broadcast is not None and cursor > broadcast.dispatch_cursor:
        broadcast.dispatch_cursor = cursor

"""The live progress's counters (issue 11, acceptance on speed): one count per broadcast serves
the polls of the next second; after it, the ledger is counted again; a finished send is
always counted now, since its figures are the last its page shows."""

from __future__ import annotations

from broadcast.broadcasts.live_counts import LiveCounts
from broadcast.broadcasts.models import Broadcast, BroadcastStatus
from broadcast.broadcasts.overview import progress_of
from broadcast.core.db import SessionFactory, transaction
from broadcast.deliveries.models import Delivery, DeliveryStatus
from broadcast.settings import Settings
from tests.support import add_contacts, api, build_world, guardians, send_broadcast


async def _sent_one(factory: SessionFactory, broadcast_id: int, n: int) -> None:
    async with transaction(factory) as session:
        session.add(
            Delivery(
                broadcast_id=broadcast_id,
                channel="email",
                address=f"parent{n}@familles.fr",
                status=DeliveryStatus.sent,
            )
        )


async def _done(factory: SessionFactory, broadcast_id: int, live: LiveCounts) -> int:
    async with factory() as session:
        broadcast = await session.get(Broadcast, broadcast_id)
        assert broadcast is not None
        [email] = await progress_of(session, broadcast, live)
        return email.done


async def test_polls_within_a_second_share_one_count_and_a_finished_send_is_counted_now(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 2))
    async with api(settings) as client:
        draft = await send_broadcast(
            client, world.keys["head_x"], world.school_x, {"organisation_ids": [world.school_x]}
        )
    now = [100.0]
    live = LiveCounts(fresh_for_s=1.0, clock=lambda: now[0])
    broadcast_id = int(draft["id"])

    assert await _done(factory, broadcast_id, live) == 0
    await _sent_one(factory, broadcast_id, 0)
    now[0] += 0.9
    assert await _done(factory, broadcast_id, live) == 0  # the count of 0.9 s ago
    now[0] += 0.2
    assert await _done(factory, broadcast_id, live) == 1  # counted again
    await _sent_one(factory, broadcast_id, 1)
    async with transaction(factory) as session:
        broadcast = await session.get(Broadcast, broadcast_id)
        assert broadcast is not None
        broadcast.status = BroadcastStatus.completed
    assert await _done(factory, broadcast_id, live) == 2  # finished: never from the cache

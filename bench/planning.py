"""The planning benchmark: what the delivery mode and follow-ups cost the planner.

    python -m bench.planning [--recipients 100000] [--chunk-size 2000] [--json]

Seeds N guardians on PostgreSQL exactly as ``bench.fanout`` does (a fresh database, dropped at
the end), gives every second one a mobile number too, then plans three broadcasts to all of them
in this process, chunk after chunk as the fan-out job does (keyset paging, one transaction per
chunk), and times each:

- ``every_channel``: email and SMS, one delivery per address on each channel;
- ``first_available``: SMS first, then email: the mobile for those who have one, the email for
  the others (the planner's NOT EXISTS over the contact's earlier channels);
- ``follow_up``: a follow-up of the first, planned from its Delivery rows.

Dispatch is not run: ``bench.fanout`` measures sending. ``peak_rss_mb`` is this process's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, text
from sqlmodel import col

from bench.fanout import Seeded, fresh_database, seed, server_url
from broadcast.audiences.criteria import AudienceCriteria
from broadcast.broadcasts.models import Broadcast, BroadcastStatus, DeliveryMode
from broadcast.broadcasts.planner import plan_chunk
from broadcast.core.db import SessionFactory, create_engine, session_factory, transaction
from broadcast.deliveries.models import Delivery
from broadcast.directory.models import ContactRole
from broadcast.notices.models import NoticeUpdate
from broadcast.settings import Settings

_ADD_MOBILES = text(
    "INSERT INTO contact_point (contact_id, channel, address, created_at) "
    "SELECT id, 'sms', '+3361' || lpad(id::text, 8, '0'), now() FROM contact WHERE id % 2 = 0"
)


async def _add_mobiles(factory: SessionFactory) -> None:
    async with transaction(factory) as session:
        await session.execute(_ADD_MOBILES)
        await session.execute(text("ANALYZE contact_point"))


async def _draft(factory: SessionFactory, seeded: Seeded, **fields: Any) -> int:
    async with transaction(factory) as session:
        update_id = await session.scalar(
            select(func.max(col(NoticeUpdate.id))).where(
                col(NoticeUpdate.notice_id) == seeded.notice_id
            )
        )
        audience = AudienceCriteria(
            organisation_ids=[seeded.academie_id], roles=[ContactRole.guardian]
        )
        broadcast = Broadcast(
            notice_id=seeded.notice_id,
            update_id=update_id or 0,
            organisation_id=seeded.academie_id,
            audience=audience.model_dump(mode="json"),
            status=BroadcastStatus.sending,
            **fields,
        )
        session.add(broadcast)
        await session.flush()
        return broadcast.id or 0


async def _plan(factory: SessionFactory, broadcast_id: int, chunk_size: int) -> dict[str, Any]:
    started = time.perf_counter()
    done = False
    while not done:
        async with transaction(factory) as session:
            broadcast = await session.get(Broadcast, broadcast_id, with_for_update=True)
            assert broadcast is not None
            await plan_chunk(session, broadcast, chunk_size)
            done = broadcast.fanout_done
    seconds = time.perf_counter() - started
    async with transaction(factory) as session:
        rows = await session.execute(
            select(col(Delivery.channel), func.count())
            .where(col(Delivery.broadcast_id) == broadcast_id)
            .group_by(col(Delivery.channel))
        )
        planned = {channel: count for channel, count in rows.all()}
    total = sum(planned.values())
    return {"planned": planned, "seconds": round(seconds, 2), "per_s": round(total / seconds)}


async def _run(database_url: str, seeded: Seeded, chunk_size: int) -> dict[str, Any]:
    engine = create_engine(Settings(env="dev", database_url=database_url))
    factory = session_factory(engine)
    try:
        await _add_mobiles(factory)
        every = await _draft(factory, seeded, channels=["email", "sms"])
        first = await _draft(
            factory,
            seeded,
            channels=["sms", "email"],
            delivery_mode=DeliveryMode.first_available,
        )
        results = {
            "every_channel": await _plan(factory, every, chunk_size),
            "first_available": await _plan(factory, first, chunk_size),
        }
        follow_up = await _draft(factory, seeded, channels=["email", "sms"], follow_up_of_id=every)
        results["follow_up"] = await _plan(factory, follow_up, chunk_size)
        return results
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.planning", description=__doc__)
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--chunk-size", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with fresh_database(server_url()) as database_url:
        seeded = asyncio.run(seed(database_url, args.recipients))
        results = asyncio.run(_run(database_url, seeded, args.chunk_size))
    results["recipients"] = args.recipients
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(results) if args.json else f"planning of {args.recipients}: {results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

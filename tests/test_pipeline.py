"""The whole email pipeline through the real API, real burst workers, Redis, the databases and
an aiosmtpd sink: notice -> audience -> fan-out -> rate-limited dispatch -> delivery ledger."""

from __future__ import annotations

import asyncio
from collections import Counter

from sqlalchemy import func, select

from broadcast.broadcasts.models import Broadcast
from broadcast.broadcasts.planner import PlannerSettings, run_fanout
from broadcast.core.db import SessionFactory, transaction
from broadcast.deliveries.models import Delivery
from broadcast.directory.models import Suppression
from broadcast.ratelimit import RateLimit
from broadcast.sandbox.smtp import SmtpSink
from broadcast.settings import Settings
from tests.support import (
    add_contacts,
    api,
    auth,
    build_world,
    guardians,
    run_burst_workers,
    send_broadcast,
    wait_until,
)


async def test_guardians_of_one_school_get_exactly_one_email_each(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 120))
    # A second child of parent0..9: same email, one message.
    await add_contacts(factory, guardians(world.school_x, 10, level="4e"))
    await add_contacts(factory, guardians(world.school_y, 30, domain="autre-lycee.fr"))
    async with api(settings) as client:
        draft = await send_broadcast(
            client,
            world.keys["head_x"],
            world.school_x,
            {"organisation_ids": [world.school_x], "roles": ["guardian"]},
        )
        email = draft["preview"]["channels"][0]
        assert email["recipients"] == 120
        assert email["excluded"] == {"suppressed": 0, "duplicate": 10, "no_address": 0, "left": 0}
        await run_burst_workers(settings)
        done = await client.get(
            f"/api/v1/broadcasts/{draft['id']}", headers=auth(world.keys["head_x"])
        )

    received = Counter(addr for m in sink.messages for addr in m.rcpt_tos)
    assert received == Counter({f"parent{n}@familles.fr": 1 for n in range(120)})
    assert done.json()["status"] == "completed"
    assert done.json()["counters"]["email"]["sent"] == 120
    subjects = {m.subject for m in sink.messages}
    assert subjects == {"[Org 0670100F] ENT indisponible"} or len(subjects) == 1


async def test_running_fanout_twice_plans_nothing_new(
    settings: Settings, factory: SessionFactory, sink: SmtpSink, redis: object
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 75))
    async with api(settings) as client:
        draft = await send_broadcast(
            client, world.keys["officer"], world.academie, {"organisation_ids": [world.school_x]}
        )
    queue = _Recorder()
    planner = PlannerSettings(chunk_size=20, batch_size=30)
    await run_fanout(factory, queue, planner, draft["id"])
    async with transaction(factory) as session:
        planned = await session.scalar(select(func.count()).select_from(Delivery))
        broadcast = await session.get(Broadcast, draft["id"])
        assert broadcast is not None
        # Replay from scratch: reset both cursors as if the job had crashed before any commit.
        broadcast.fanout_cursor = 0
        broadcast.fanout_done = False
        broadcast.dispatch_cursor = 0
    await run_fanout(factory, queue, planner, draft["id"])
    async with transaction(factory) as session:
        assert await session.scalar(select(func.count()).select_from(Delivery)) == planned == 75


class _Recorder:
    def __init__(self) -> None:
        self.jobs: list[tuple[str, tuple[object, ...]]] = []

    async def enqueue_job(
        self,
        function: str,
        *args: object,
        _job_id: str | None = None,
        _queue_name: str | None = None,
    ) -> object:
        self.jobs.append((function, args))
        return None


async def test_smtp_451_then_250_ends_sent_after_a_retry(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 3))
    sink.fail_next(451, times=1)
    async with api(settings) as client:
        draft = await send_broadcast(
            client, world.keys["head_x"], world.school_x, {"organisation_ids": [world.school_x]}
        )
        await run_burst_workers(settings)
    async with transaction(factory) as session:
        rows = (await session.execute(select(Delivery).order_by(Delivery.id))).scalars().all()
    assert [d.status for d in rows] == ["sent", "sent", "sent"]
    assert sorted(d.attempts for d in rows) == [1, 1, 2]
    assert Counter(a for m in sink.messages for a in m.rcpt_tos) == Counter(
        {f"parent{n}@familles.fr": 1 for n in range(3)}
    )
    assert draft["id"] == rows[0].broadcast_id


async def test_smtp_550_fails_and_suppresses_then_next_preview_excludes_it(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 4))
    sink.reject_address("parent2@familles.fr", 550)
    audience = {"organisation_ids": [world.school_x]}
    async with api(settings) as client:
        await send_broadcast(client, world.keys["head_x"], world.school_x, audience)
        await run_burst_workers(settings)
        async with transaction(factory) as session:
            bounced = await session.scalar(
                select(Delivery).where(Delivery.address == "parent2@familles.fr")
            )
            suppression = await session.scalar(select(Suppression))
        assert bounced is not None and bounced.status == "failed" and "550" in (bounced.error or "")
        assert suppression is not None and suppression.address == "parent2@familles.fr"

        sink.clear()
        second = await send_broadcast(client, world.keys["head_x"], world.school_x, audience)
        email = second["preview"]["channels"][0]
        assert email["recipients"] == 3
        assert email["excluded"]["suppressed"] == 1
        await run_burst_workers(settings)
    assert sorted(a for m in sink.messages for a in m.rcpt_tos) == [
        "parent0@familles.fr",
        "parent1@familles.fr",
        "parent3@familles.fr",
    ]


async def test_cancel_in_flight_stops_sending_and_counters_add_up(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    limited = settings.model_copy(update={"channel_rates": {"email": RateLimit(rate=60, burst=5)}})
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 300))
    key = auth(world.keys["head_x"])
    async with api(limited) as client:
        draft = await send_broadcast(
            client, world.keys["head_x"], world.school_x, {"organisation_ids": [world.school_x]}
        )
        workers = asyncio.create_task(run_burst_workers(limited))
        await wait_until(lambda: len(sink.messages) >= 60, timeout_s=30)
        cancelled = await client.post(f"/api/v1/broadcasts/{draft['id']}/cancel", headers=key)
        await workers
        final = await client.get(f"/api/v1/broadcasts/{draft['id']}", headers=key)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    counters = final.json()["counters"]["email"]
    assert counters["sent"] + counters["cancelled"] == 300
    assert counters["queued"] == counters["sending"] == 0
    assert counters["sent"] == len(sink.messages) < 300
    assert final.json()["status"] == "cancelled"

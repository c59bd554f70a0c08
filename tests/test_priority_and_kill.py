"""Urgent broadcasts never wait behind bulk ones; a worker killed mid-broadcast is recovered."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from broadcast.broadcasts.models import Broadcast
from broadcast.core.db import SessionFactory, transaction
from broadcast.deliveries.models import Delivery
from broadcast.ratelimit import RateLimit
from broadcast.sandbox.smtp import SmtpSink
from broadcast.settings import Settings
from tests.conftest import TEST_SECRET, make_settings
from tests.support import (
    add_contacts,
    api,
    build_world,
    bulk_then_urgent,
    guardians,
    run_burst_workers,
    send_broadcast,
    wait_until,
)


async def test_urgent_broadcast_created_after_a_large_bulk_one_finishes_first(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    limited = settings.model_copy(update={"channel_rates": {"email": RateLimit(rate=100, burst=5)}})
    world = await build_world(factory)
    async with api(limited) as client:
        bulk, urgent = await bulk_then_urgent(client, factory, world, 400)
        await run_burst_workers(limited)
    async with transaction(factory) as session:
        first = await session.get(Broadcast, bulk["id"])
        second = await session.get(Broadcast, urgent["id"])
    assert first is not None and second is not None
    assert first.status == second.status == "completed"
    assert first.completed_at and second.completed_at
    assert second.completed_at < first.completed_at
    assert len(sink.messages) == 405


def _worker_env(settings: Settings, smtp_port: int) -> dict[str, str]:
    return {
        **os.environ,
        "BROADCAST_ENV": "dev",
        "BROADCAST_SECRET_KEY": TEST_SECRET,
        "BROADCAST_DATABASE_URL": settings.database_url,
        "BROADCAST_REDIS_URL": settings.redis_url or "",
        "BROADCAST_SMTP_RELAYS": json.dumps(
            [{"host": "127.0.0.1", "port": smtp_port, "connections": 4}]
        ),
        "BROADCAST_CHANNEL_RATES": json.dumps({"email": {"rate": 150, "burst": 10}}),
        "BROADCAST_DISPATCH_BATCH_SIZE": "50",
        "BROADCAST_WORKER_JOB_TIMEOUT_S": "3",
        "BROADCAST_WORKER_POLL_DELAY_S": "0.01",
        "BROADCAST_LOG_LEVEL": "WARNING",
    }


async def test_a_worker_killed_mid_broadcast_is_recovered_with_few_duplicates(
    database_url: str, redis_url: str, factory: SessionFactory, sink: SmtpSink, tmp_path: Path
) -> None:
    settings = make_settings(
        database_url, redis_url, sink.port, tmp_path, worker_job_timeout_s=3, dispatch_batch_size=50
    )
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 600))
    async with api(settings) as client:
        draft = await send_broadcast(
            client, world.keys["head_x"], world.school_x, {"organisation_ids": [world.school_x]}
        )
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "broadcast.cli", "worker", env=_worker_env(settings, sink.port)
    )
    try:
        await wait_until(lambda: len(sink.messages) >= 150, timeout_s=60)
    finally:
        worker.kill()
        await worker.wait()
    async with transaction(factory) as session:
        in_flight = set(
            (
                await session.execute(select(Delivery.address).where(Delivery.status == "sending"))
            ).scalars()
        )
    received_at_kill = len(sink.messages)
    assert received_at_kill < 600, "the worker finished before it was killed"

    await run_burst_workers(settings)

    async with transaction(factory) as session:
        statuses = Counter((await session.execute(select(Delivery.status))).scalars())
        broadcast = await session.get(Broadcast, draft["id"])
    assert statuses == {"sent": 600}
    assert broadcast is not None and broadcast.status == "completed"
    received = Counter(a for m in sink.messages for a in m.rcpt_tos)
    assert set(received) == {f"parent{n}@familles.fr" for n in range(600)}
    duplicates = {address for address, count in received.items() if count > 1}
    assert duplicates <= in_flight
    # Tokens are taken before a group is claimed: at most one group of `burst` per running job.
    assert len(in_flight) <= 20 * 10

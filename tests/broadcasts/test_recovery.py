"""Work whose jobs were lost (Redis emptied) is found and finished by the recovery pass."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from arq.connections import RedisSettings, create_pool

from broadcast.broadcasts.planner import PlannerSettings, run_fanout
from broadcast.broadcasts.recovery import resume_stalled
from broadcast.core.db import SessionFactory
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
)


class _Lost:
    async def enqueue_job(self, *_: Any, **__: Any) -> None:
        return None


async def _resume(settings: Settings, factory: SessionFactory) -> int:
    assert settings.redis_url
    pool = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    try:
        return await resume_stalled(factory, pool, batch_size=40, stalled_after_s=0)
    finally:
        await pool.aclose()


async def test_a_broadcast_whose_fanout_job_was_lost_is_sent_after_recovery(
    settings: Settings, factory: SessionFactory, sink: SmtpSink, redis: aioredis.Redis
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 90))
    async with api(settings) as client:
        draft = await send_broadcast(
            client, world.keys["head_x"], world.school_x, {"organisation_ids": [world.school_x]}
        )
        await redis.flushdb()  # the fan-out job is gone
        assert await _resume(settings, factory) == 1
        await run_burst_workers(settings)
        done = await client.get(
            f"/api/v1/broadcasts/{draft['id']}", headers=auth(world.keys["head_x"])
        )
    assert done.json()["status"] == "completed"
    assert len(sink.messages) == 90


async def test_planned_deliveries_whose_dispatch_jobs_were_lost_are_sent_after_recovery(
    settings: Settings, factory: SessionFactory, sink: SmtpSink, redis: aioredis.Redis
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 90))
    async with api(settings) as client:
        draft = await send_broadcast(
            client, world.keys["head_x"], world.school_x, {"organisation_ids": [world.school_x]}
        )
    await redis.flushdb()
    await run_fanout(factory, _Lost(), PlannerSettings(50, 40), draft["id"])
    assert await _resume(settings, factory) == 3  # 90 deliveries in batches of 40
    await run_burst_workers(settings)
    assert sorted(a for m in sink.messages for a in m.rcpt_tos) == sorted(
        f"parent{n}@familles.fr" for n in range(90)
    )
    assert await _resume(settings, factory) == 0

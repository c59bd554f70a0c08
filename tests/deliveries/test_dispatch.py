"""The dispatcher against the real ledger, Redis and SMTP sink: two runs of one batch at once
never send a delivery twice; a run out of time hands the rest to its next try; an urgent batch's
messages take the next free connection, before the bulk messages already waiting for one; bulk
sends yield as soon as an urgent broadcast is being planned."""

from __future__ import annotations

import asyncio
from collections import Counter
from time import monotonic
from typing import Any

import pytest
import redis.asyncio as aioredis
from sqlalchemy import select

from broadcast.broadcasts.planner import PlannerSettings, run_fanout
from broadcast.channels.email.sender import EmailChannel
from broadcast.core.db import SessionFactory, transaction
from broadcast.deliveries.dispatch import Dispatcher, RetryLater, RetryPolicy
from broadcast.deliveries.models import Delivery
from broadcast.jobs import DispatchBatch
from broadcast.ratelimit import RateLimit, RateLimiter, RateLimitTimeout
from broadcast.sandbox.smtp import SmtpSink
from broadcast.settings import Settings
from tests.support import (
    add_contacts,
    api,
    build_world,
    bulk_then_urgent,
    guardians,
    send_broadcast,
    wait_until,
)


class _Recorder:
    def __init__(self) -> None:
        self.batches: list[DispatchBatch] = []

    async def enqueue_job(self, function: str, *args: Any, **_: Any) -> None:
        if function == "dispatch":
            self.batches.append(DispatchBatch(*args))


async def _planned(settings: Settings, factory: SessionFactory, count: int) -> list[DispatchBatch]:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, count))
    async with api(settings) as client:
        draft = await send_broadcast(
            client, world.keys["head_x"], world.school_x, {"organisation_ids": [world.school_x]}
        )
    return await _fanned_out(factory, draft["id"])


async def _fanned_out(factory: SessionFactory, broadcast_id: int) -> list[DispatchBatch]:
    recorder = _Recorder()
    await run_fanout(factory, recorder, PlannerSettings(1000, 1000), broadcast_id)
    return recorder.batches


def _one_connection(settings: Settings) -> Settings:
    relays = [relay.model_copy(update={"connections": 1}) for relay in settings.smtp_relays]
    return settings.model_copy(update={"smtp_relays": relays})


def _dispatcher(
    settings: Settings, factory: SessionFactory, redis: aioredis.Redis, budget: float = 60
) -> Dispatcher:
    channel = EmailChannel(settings)
    return Dispatcher(
        factory,
        {"email": channel},
        RateLimiter(redis),
        RetryPolicy(0.01, 0.05, 3600),
        stale_claim_s=300,
        time_budget_s=budget,
    )


async def test_two_runs_of_one_batch_at_once_send_each_delivery_once(
    settings: Settings, factory: SessionFactory, sink: SmtpSink, redis: aioredis.Redis
) -> None:
    [batch] = await _planned(settings, factory, 120)
    first, second = _dispatcher(settings, factory, redis), _dispatcher(settings, factory, redis)
    outcomes = await asyncio.gather(first.run(batch), second.run(batch), return_exceptions=True)
    # A run that met the other's fresh claims asks to look again later; it never steals them.
    assert all(o is None or isinstance(o, RetryLater) for o in outcomes)
    received = Counter(a for m in sink.messages for a in m.rcpt_tos)
    assert len(received) == 120 and set(received.values()) == {1}
    async with transaction(factory) as session:
        statuses = Counter((await session.execute(select(Delivery.status))).scalars())
    assert statuses == {"sent": 120}


async def test_a_run_out_of_time_continues_at_once_in_its_next_try(
    settings: Settings, factory: SessionFactory, sink: SmtpSink, redis: aioredis.Redis
) -> None:
    [batch] = await _planned(settings, factory, 30)
    with pytest.raises(RetryLater) as stopped:
        await _dispatcher(settings, factory, redis, budget=0).run(batch)
    assert stopped.value.delay_s == 0.0 and sink.messages == []
    await _dispatcher(settings, factory, redis).run(batch, attempt=2)
    assert len(sink.messages) == 30


async def test_an_urgent_batch_takes_the_connection_before_waiting_bulk_messages(
    settings: Settings, factory: SessionFactory, sink: SmtpSink, redis: aioredis.Redis
) -> None:
    settings = _one_connection(settings)
    world = await build_world(factory)
    async with api(settings) as client:
        bulk, urgent = await bulk_then_urgent(client, factory, world, 300)
    [bulk_batch] = await _fanned_out(factory, bulk["id"])
    [urgent_batch] = await _fanned_out(factory, urgent["id"])
    sink.delay_s = 0.01  # a message every 10 ms through the one connection
    dispatcher = _dispatcher(settings, factory, redis)
    sending_bulk = asyncio.ensure_future(dispatcher.run(bulk_batch))
    await wait_until(lambda: sink.received >= 10, timeout_s=10)
    urgent_from = sink.received
    await dispatcher.run(urgent_batch)
    await sending_bulk
    order = [m.rcpt_tos[0] for m in sink.messages]
    urgent_at = [n for n, address in enumerate(order) if address.endswith("@urgence.fr")]
    assert len(order) == 305 and len(urgent_at) == 5
    # Without the gate they would come after the 90 bulk messages of the group in flight.
    assert max(urgent_at) < urgent_from + 40, (urgent_from, urgent_at)


async def test_bulk_sends_yield_from_the_moment_an_urgent_broadcast_is_planned(
    settings: Settings, factory: SessionFactory, redis: aioredis.Redis
) -> None:
    settings = settings.model_copy(update={"channel_rates": {"email": RateLimit(rate=1000)}})
    world = await build_world(factory)
    async with api(settings) as client:
        bulk, urgent = await bulk_then_urgent(client, factory, world, 3)
    dispatcher = _dispatcher(settings, factory, redis)
    buckets = dispatcher.channels["email"].rate_limits()

    async def bulk_gets_a_token() -> bool:
        try:
            await dispatcher.limiter.acquire(buckets, urgent=False, deadline=monotonic() + 0.3)
        except RateLimitTimeout:
            return False
        return True

    await dispatcher.make_way_for(bulk["id"])
    assert await bulk_gets_a_token()  # a bulk broadcast makes way for nobody
    await dispatcher.make_way_for(urgent["id"])
    assert not await bulk_gets_a_token()

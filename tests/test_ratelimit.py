"""The shared rate limiter against a real Redis, in one process and across worker processes."""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from broadcast.ratelimit import RateLimit, RateLimiter, RateLimitTimeout

WORKER = Path(__file__).with_name("ratelimit_worker.py")


@pytest.fixture
def limiter(redis: aioredis.Redis[Any]) -> RateLimiter:
    return RateLimiter(redis)


async def test_burst_is_granted_at_once_then_the_next_token_waits(limiter: RateLimiter) -> None:
    bucket = [("sms:acme", RateLimit(rate=10, burst=5))]

    granted = [await limiter.try_acquire(bucket) for _ in range(5)]
    wait = await limiter.try_acquire(bucket)

    assert granted == [0.0] * 5
    assert 0.05 < wait <= 0.1


async def test_buckets_are_taken_together_or_not_at_all(limiter: RateLimiter) -> None:
    channel = ("sms", RateLimit(rate=10, burst=5))
    account = ("sms:acme", RateLimit(rate=10, burst=1))

    assert await limiter.try_acquire([channel, account]) == 0.0
    assert await limiter.try_acquire([channel, account]) > 0.05

    assert await limiter.try_acquire([channel], n=4) == 0.0  # the refused call charged nothing
    assert await limiter.try_acquire([channel]) > 0.0


async def test_wait_is_the_longest_of_the_buckets(limiter: RateLimiter) -> None:
    fast, slow = ("fast", RateLimit(rate=100, burst=1)), ("slow", RateLimit(rate=2, burst=1))
    await limiter.try_acquire([fast, slow])

    assert 0.45 < await limiter.try_acquire([fast, slow]) <= 0.5


async def test_no_buckets_grants_without_touching_redis() -> None:
    unreachable = aioredis.Redis.from_url("unix:///nonexistent/redis.sock")
    limiter = RateLimiter(unreachable)

    assert await limiter.try_acquire([]) == 0.0
    await limiter.acquire([], n=1000, deadline=time.monotonic())
    await unreachable.aclose()


async def test_acquire_waits_for_the_refill(limiter: RateLimiter) -> None:
    bucket = [("push", RateLimit(rate=20, burst=1))]

    first = await limiter.acquire(bucket)
    second = await limiter.acquire(bucket, deadline=time.monotonic() + 5)

    assert second - first >= 0.049


async def test_acquire_gives_up_at_the_deadline(limiter: RateLimiter) -> None:
    bucket = [("email", RateLimit(rate=1, burst=1))]
    await limiter.acquire(bucket)

    with pytest.raises(RateLimitTimeout) as raised:
        await limiter.acquire(bucket, deadline=time.monotonic() + 0.05)

    assert 0.9 < raised.value.retry_after <= 1.0


async def test_more_than_burst_waits_for_a_full_bucket_then_leaves_a_debt(
    limiter: RateLimiter,
) -> None:
    bucket = [("sms:big", RateLimit(rate=100, burst=2))]
    await limiter.try_acquire(bucket)

    assert 0.0 < await limiter.try_acquire(bucket, n=5) <= 0.01  # needs the bucket full
    await limiter.acquire(bucket, n=5, deadline=time.monotonic() + 5)
    assert 0.035 < await limiter.try_acquire(bucket) <= 0.04  # 3 tokens of debt, then 1


async def test_idle_buckets_expire_once_they_would_be_full(
    limiter: RateLimiter, redis: aioredis.Redis[Any]
) -> None:
    await limiter.try_acquire([("webhook", RateLimit(rate=10, burst=5))], n=5)

    ttl_ms = await redis.pttl("broadcast:ratelimit:webhook")

    assert 500 < ttl_ms <= 1500  # refill time (0.5 s) plus a one-second margin


async def test_bad_requests_are_refused(limiter: RateLimiter) -> None:
    bucket = ("sms", RateLimit(rate=10, burst=5))
    with pytest.raises(ValueError):
        await limiter.try_acquire([bucket], n=0)
    with pytest.raises(ValueError):
        await limiter.try_acquire([bucket, bucket])


def _most_in_one_second(times: list[float]) -> int:
    times = sorted(times)
    most, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] > 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


def _run_workers(redis_url: str, prefix: str, args: list[str], count: int) -> list[list[float]]:
    command = [sys.executable, str(WORKER), redis_url, prefix, *args, str(count), "3"]
    workers = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(count)
    ]
    results = []
    try:
        for worker in workers:
            out, err = worker.communicate(timeout=60)
            assert worker.returncode == 0, err
            results.append(json.loads(out))
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    return results


def test_two_worker_processes_share_one_limit(redis_url: str) -> None:
    rate, burst, duration = 50.0, 10, 2.5
    prefix = f"test:ratelimit:{uuid.uuid4().hex}:"

    per_worker = _run_workers(redis_url, prefix, [str(rate), str(burst), str(duration)], 2)

    grants = [t for times in per_worker for t in times]
    assert _most_in_one_second(grants) <= rate + burst
    assert all(len(times) >= 0.1 * len(grants) for times in per_worker)
    assert len(grants) >= 0.7 * rate * duration
    assert len(grants) <= math.floor(burst + rate * (max(grants) - min(grants))) + 1


async def test_an_urgent_send_takes_the_tokens_before_a_bulk_one(limiter: RateLimiter) -> None:
    """Bulk and urgent compete for one bucket: once the urgent send asks, every token goes to it
    until it is done, and the bulk send carries on after (RULES: urgent never waits behind bulk)."""
    bucket = [("email", RateLimit(rate=40, burst=1))]
    grants: list[str] = []

    async def send(kind: str, count: int) -> None:
        for _ in range(count):
            await limiter.acquire(bucket, urgent=kind == "urgent")
            grants.append(kind)

    bulk = asyncio.ensure_future(send("bulk", 12))
    await asyncio.sleep(0.1)  # the bulk send is under way
    await send("urgent", 8)
    await bulk
    assert grants.count("urgent") == 8 and grants.count("bulk") == 12
    first_urgent = grants.index("urgent")
    assert first_urgent > 0
    # after the urgent send's first grant, at most one bulk grant already waiting slips in
    assert grants[first_urgent : first_urgent + 9].count("bulk") <= 1
    assert grants[-1] == "bulk"


async def test_a_hold_grants_nothing_for_that_long_even_without_buckets(
    limiter: RateLimiter,
) -> None:
    await limiter.hold("sms", 0.5)
    await limiter.hold("sms", 0.1)  # a shorter hold keeps the longer one
    assert 0.4 < await limiter.held_for("sms") <= 0.5
    started = time.monotonic()
    await limiter.acquire([], hold="sms")
    assert 0.4 < time.monotonic() - started < 0.8
    assert await limiter.held_for("sms") == 0.0


async def test_a_hold_past_the_deadline_raises_at_once(limiter: RateLimiter) -> None:
    await limiter.hold("push", 5)
    with pytest.raises(RateLimitTimeout) as raised:
        await limiter.acquire([], deadline=time.monotonic() + 1, hold="push")
    assert 4.5 < raised.value.retry_after <= 5

"""One worker process for the rate limiter's multi-process test.

Usage: python ratelimit_worker.py REDIS_URL PREFIX RATE BURST DURATION_S PEERS TASKS

Waits until PEERS processes have arrived (a counter in Redis), then runs TASKS coroutines that
take one token at a time from the bucket "shared" for DURATION_S seconds, and prints the Redis
time of every grant as a JSON list on stdout.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import redis.asyncio as aioredis

from broadcast.ratelimit import RateLimit, RateLimiter, RateLimitTimeout

ARRIVAL_TIMEOUT_S = 20.0


async def _wait_for_peers(client: aioredis.Redis[Any], key: str, peers: int) -> None:
    await client.incr(key)
    give_up = time.monotonic() + ARRIVAL_TIMEOUT_S
    while int(await client.get(key) or 0) < peers:
        if time.monotonic() > give_up:
            raise SystemExit("the other workers never arrived")
        await asyncio.sleep(0.002)


async def _hammer(
    limiter: RateLimiter, limit: RateLimit, end: float, max_grants: int, grants: list[float]
) -> None:
    while len(grants) < max_grants:
        try:
            grants.append(await limiter.acquire([("shared", limit)], deadline=end))
        except RateLimitTimeout:
            return


async def main(
    url: str, prefix: str, rate: float, burst: int, duration: float, peers: int, tasks: int
) -> list[float]:
    client = aioredis.Redis.from_url(url)
    try:
        limiter = RateLimiter(client, prefix=prefix)
        limit = RateLimit(rate=rate, burst=burst)
        max_grants = int(2 * (rate * duration + burst))
        await _wait_for_peers(client, prefix + "arrived", peers)
        end = time.monotonic() + duration
        grants: list[float] = []
        await asyncio.gather(
            *(_hammer(limiter, limit, end, max_grants, grants) for _ in range(tasks))
        )
        return grants
    finally:
        await client.aclose()


if __name__ == "__main__":
    url, prefix, rate, burst, duration, peers, tasks = sys.argv[1:8]
    times = asyncio.run(
        main(url, prefix, float(rate), int(burst), float(duration), int(peers), int(tasks))
    )
    print(json.dumps(times))

"""One rate limiter in Redis, shared by every worker process, per channel and per provider account.

Each bucket is a token bucket named by the caller (for example ``"sms:twilio-main"``): it holds at
most ``burst`` tokens and refills at ``rate`` tokens per second. One Lua script reads the clock
with Redis ``TIME`` (one clock for every process and machine), refills, and takes ``n`` tokens
from every named bucket or from none. So, for requests of ``n <= burst``, the grants of any
one-second window, across all processes, never exceed ``rate + burst`` tokens.

A request larger than a bucket's burst could never fit; it is granted once the bucket is full and
leaves the bucket in debt (negative), so the long-run rate still holds, but that single grant is
an all-at-once burst of ``n``: callers that want providers never to see more than ``burst`` at
once must ask for at most ``burst`` tokens at a time.

A bucket's state is a hash ``{tokens, ts}`` whose TTL is the time it takes to refill completely:
an expired bucket and a full one are the same thing, so idle buckets vanish and nothing is lost.
All the buckets of one call are keys of one script: on a Redis Cluster, give the prefix a hash
tag (``"{broadcast:ratelimit}:"``) so that they share a slot.

A hold (:meth:`RateLimiter.hold`) is a key that expires: while it is there, every acquire naming
it waits, across workers, whether its buckets are configured or not (a provider's
``Retry-After``, a provider refusing everything).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence

from pydantic import BaseModel, Field
from redis.asyncio import Redis


class RateLimit(BaseModel):
    """A token bucket: ``rate`` grants per second, at most ``burst`` at once."""

    rate: float = Field(gt=0)
    burst: int = Field(default=1, ge=1)


Bucket = tuple[str, RateLimit]

JITTER_S = 0.005

# KEYS[i]: the hash of bucket i; ARGV[1]: n; ARGV[2i], ARGV[2i+1]: rate and burst of bucket i.
# Returns {granted (0/1), seconds to wait, Redis time in seconds}, numbers as strings (Lua numbers
# returned to Redis are truncated to integers).
_TAKE = """
if redis.replicate_commands then redis.replicate_commands() end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local n = tonumber(ARGV[1])
local levels = {}
local wait = 0
for i, key in ipairs(KEYS) do
  local rate, burst = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local state = redis.call('HMGET', key, 'tokens', 'ts')
  local tokens = tonumber(state[1]) or burst
  local elapsed = math.max(0, now - (tonumber(state[2]) or now))
  tokens = math.min(burst, tokens + elapsed * rate)
  levels[i] = tokens
  local need = math.min(n, burst)
  if tokens < need then wait = math.max(wait, (need - tokens) / rate) end
end
local stamp = string.format('%.6f', now)
if wait > 0 then return {'0', string.format('%.6f', wait), stamp} end
for i, key in ipairs(KEYS) do
  local rate, burst = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local left = levels[i] - n
  redis.call('HSET', key, 'tokens', string.format('%.17g', left), 'ts', stamp)
  redis.call('PEXPIRE', key, math.ceil((burst - left) / rate * 1000) + 1000)
end
return {'1', '0', stamp}
"""


# KEYS[1]: a hold; ARGV[1]: milliseconds. Holds for that long unless already held for longer.
_HOLD = """
local left = redis.call('PTTL', KEYS[1])
if left < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], '1', 'PX', ARGV[1]) end
return 1
"""

URGENT_MARK_MS = 2000
"""How long an urgent send's claim on its buckets lasts; each of its grants renews it."""
YIELD_S = 0.05
"""How long a bulk send waits before looking again while an urgent one holds its buckets."""


class RateLimitTimeout(Exception):
    """The tokens could not be had before the caller's deadline."""

    def __init__(
        self, buckets: Sequence[Bucket], retry_after: float, hold: str | None = None
    ) -> None:
        names = ", ".join([name for name, _ in buckets] + ([f"hold:{hold}"] if hold else []))
        super().__init__(f"rate limit: no tokens in [{names}] before the deadline")
        self.retry_after = retry_after


class RateLimiter:
    """Token buckets in Redis, taken atomically: all the named buckets or none."""

    def __init__(self, redis: Redis, prefix: str = "broadcast:ratelimit:") -> None:
        self._prefix = prefix
        self._redis = redis
        self._take = redis.register_script(_TAKE)
        self._hold = redis.register_script(_HOLD)

    @property
    def redis(self) -> Redis:
        return self._redis

    async def hold(self, name: str, seconds: float) -> None:
        """Grant nothing to the acquires naming ``name`` for ``seconds`` (a provider answered
        429 with its ``Retry-After``, or is down): every worker then waits instead of bouncing
        an outage's worth of messages. A longer hold already there is kept. Unlike a bucket, a
        hold needs no configured rate: an unlimited channel is held too."""
        if seconds <= 0:
            return
        await self._hold(keys=[self._hold_key(name)], args=[max(int(seconds * 1000), 1)])

    async def held_for(self, name: str) -> float:
        """Seconds left of the hold ``name``; 0.0 when it is not held."""
        left = int(await self._redis.pttl(self._hold_key(name)))
        return left / 1000 if left > 0 else 0.0

    def _hold_key(self, name: str) -> str:
        return f"{self._prefix}hold:{name}"

    async def make_way(self, buckets: Sequence[Bucket]) -> None:
        """Mark ``buckets`` as used by an urgent send for the next ``URGENT_MARK_MS``: bulk
        sends naming one of them wait meanwhile. Each urgent grant marks them again."""
        if not buckets:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for mark in self._urgent_marks(buckets):
                pipe.set(mark, 1, px=URGENT_MARK_MS)
            await pipe.execute()

    def _urgent_marks(self, buckets: Sequence[Bucket]) -> list[str]:
        return [f"{self._prefix}urgent:{name}" for name, _ in buckets]

    async def _yield_to_urgent(self, buckets: Sequence[Bucket], urgent: bool) -> bool:
        """Urgent sends mark their buckets; bulk sends wait while a mark is there. True when
        the caller must wait."""
        if urgent:
            await self.make_way(buckets)
            return False
        return bool(await self._redis.exists(*self._urgent_marks(buckets)))

    async def try_acquire(self, buckets: Sequence[Bucket], n: int = 1) -> float:
        """Take ``n`` tokens from every bucket or none: 0.0 if granted, else the seconds to wait."""
        wait, _ = await self._try(buckets, n)
        return wait

    async def acquire(
        self,
        buckets: Sequence[Bucket],
        n: int = 1,
        *,
        deadline: float | None = None,
        urgent: bool | None = None,
        hold: str | None = None,
    ) -> float:
        """Wait until ``n`` tokens are taken from every bucket; return the Redis time of the grant.

        ``deadline`` is a ``time.monotonic()`` value: when the next wait would end past it,
        `RateLimitTimeout` is raised at once, carrying that wait as ``retry_after``.
        With no buckets (rate limits off) it returns ``time.time()`` without touching Redis.
        ``urgent``: True for an urgent send, which takes the tokens first; False for a bulk
        send, which waits while an urgent one is sending on the same buckets; None for neither.
        ``hold``: the name of a :meth:`hold` to wait out first, buckets or not.
        """
        if hold is not None:
            await self._wait_out_hold(hold, deadline, buckets)
        if not buckets:
            return time.time()
        while True:
            if urgent is not None and await self._yield_to_urgent(buckets, urgent):
                if deadline is not None and time.monotonic() + YIELD_S > deadline:
                    raise RateLimitTimeout(buckets, YIELD_S)
                await asyncio.sleep(YIELD_S)
                continue
            wait, granted_at = await self._try(buckets, n)
            if wait == 0.0:
                return granted_at
            if deadline is not None and time.monotonic() + wait > deadline:
                raise RateLimitTimeout(buckets, wait)
            await asyncio.sleep(wait + random.uniform(0, JITTER_S))

    async def _wait_out_hold(
        self, name: str, deadline: float | None, buckets: Sequence[Bucket]
    ) -> None:
        while wait := await self.held_for(name):
            if deadline is not None and time.monotonic() + wait > deadline:
                raise RateLimitTimeout(buckets, wait, name)
            await asyncio.sleep(wait + random.uniform(0, JITTER_S))

    async def _try(self, buckets: Sequence[Bucket], n: int) -> tuple[float, float]:
        """(seconds to wait or 0.0 if granted, Redis time of the attempt)."""
        if n < 1:
            raise ValueError(f"n must be at least 1, not {n}")
        if not buckets:
            return 0.0, time.time()
        names = [name for name, _ in buckets]
        if len(set(names)) != len(names):
            raise ValueError(f"a bucket is named twice in {names}")
        args: list[float | int] = [n]
        for _, limit in buckets:
            args += [limit.rate, limit.burst]
        granted, wait, now = await self._take(
            keys=[self._prefix + name for name in names], args=args
        )
        if int(granted):
            return 0.0, float(now)
        return max(float(wait), 1e-6), float(now)

"""Noticing that Redis came back without its data.

A Redis restarted empty (no AOF, a failover to a blank replica) has lost every queued job: the
send stops, though the ledger in the database still knows every open delivery. An epoch key,
written once by the first process that finds Redis without it, tells the two cases apart: a
worker that saw an epoch and now finds none, or another one, knows the queues were emptied, and
the ledger alone restarts the send (:func:`broadcast.broadcasts.recovery.resume_stalled`).

A worker process that starts and finds no epoch cannot know whether Redis lost its data or
never had any; it assumes the loss, which costs only re-enqueued jobs that find nothing to
claim. The API marks the epoch at its start, so a fresh deployment starts with one.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from redis.asyncio import Redis

EPOCH_KEY = "broadcast:redis-epoch"
RESUME_CLAIM_TTL_S = 24 * 3600


async def mark_epoch(redis: Redis) -> str:
    """The current epoch, written first when Redis has none."""
    await redis.set(EPOCH_KEY, secrets.token_hex(8), nx=True)
    current = await redis.get(EPOCH_KEY)
    return current.decode() if current is not None else ""


@dataclass
class RedisEpoch:
    """The epoch a worker process saw last; ``seen`` is None until its first check."""

    redis: Redis
    seen: str | None = None

    async def lost_data(self) -> bool:
        """True once per loss and across workers: the first worker to notice that Redis lost
        its data gets True, and resumes the send; the others, and later checks, get False."""
        current = await self.redis.get(EPOCH_KEY)
        if current is not None and self.seen in (None, current.decode()):
            self.seen = current.decode()
            return False
        self.seen = await mark_epoch(self.redis)
        claimed = await self.redis.set(
            f"{EPOCH_KEY}:resumed:{self.seen}", "1", ex=RESUME_CLAIM_TTL_S, nx=True
        )
        return bool(claimed)

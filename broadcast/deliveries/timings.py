"""How fast a broadcast reached people: confirm -> first message sent, and -> 95 % sent.

Every worker adds the messages it sent to one running count per broadcast in Redis and notes
(time, count so far) after each group; the first note observes the time to the first message,
and the broadcast's completion reads the notes back to find when 95 % of what it sent had gone.
The notes expire after two days, so a broadcast that never completes leaves nothing for long.
"""

from __future__ import annotations

import time
from datetime import datetime

from redis.asyncio import Redis

from broadcast.core.metrics import FIRST_DELIVERY, MOST_DELIVERED
from broadcast.core.timeutil import as_utc

_KEEP_S = 2 * 24 * 3600
_SHARE = 0.95


class BroadcastTimings:
    def __init__(self, redis: Redis, prefix: str = "broadcast:timings:") -> None:
        self._redis = redis
        self._prefix = prefix

    async def record_sent(
        self, broadcast_id: int, priority: str, queued_at: datetime | None, sent: int
    ) -> None:
        if sent <= 0 or queued_at is None:
            return
        count_key, notes_key = self._keys(broadcast_id)
        so_far = int(await self._redis.incrby(count_key, sent))
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.rpush(notes_key, f"{time.time():.3f}:{so_far}")
            pipe.expire(count_key, _KEEP_S)
            pipe.expire(notes_key, _KEEP_S)
            await pipe.execute()
        if so_far == sent:
            FIRST_DELIVERY.labels(priority).observe(_since(queued_at, time.time()))

    async def completed(self, broadcast_id: int, priority: str, queued_at: datetime | None) -> None:
        count_key, notes_key = self._keys(broadcast_id)
        notes = await self._redis.lrange(notes_key, 0, -1)  # type: ignore[misc]
        await self._redis.delete(count_key, notes_key)
        moment = _moment_of_share(notes, _SHARE)
        if moment is not None and queued_at is not None:
            MOST_DELIVERED.labels(priority).observe(_since(queued_at, moment))

    def _keys(self, broadcast_id: int) -> tuple[str, str]:
        base = f"{self._prefix}{broadcast_id}"
        return f"{base}:sent", f"{base}:notes"


def _moment_of_share(notes: list[bytes], share: float) -> float | None:
    """The first noted time at which the running count reached ``share`` of the final count."""
    parsed = sorted(
        (int(count), float(moment))
        for moment, count in (note.decode().split(":") for note in notes)
    )
    if not parsed:
        return None
    target = share * parsed[-1][0]
    return next(moment for count, moment in parsed if count >= target)


def _since(queued_at: datetime, moment: float) -> float:
    return max(0.0, moment - as_utc(queued_at).timestamp())

"""Live progress of a running import, in Redis: the import's own transaction is not visible
to readers until it commits (and SQLite allows one writer), so its counts are published here."""

from __future__ import annotations

from redis.asyncio import Redis

from broadcast.imports.report import ImportReport

_TTL_S = 24 * 3600


def _key(run_id: int) -> str:
    return f"broadcast:import:{run_id}:progress"


class ImportProgress:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def publish(self, run_id: int, report: ImportReport) -> None:
        key = _key(run_id)
        await self._redis.hset(key, mapping=report.counts())  # type: ignore[misc]
        await self._redis.expire(key, _TTL_S)

    async def read(self, run_id: int) -> dict[str, int]:
        raw = await self._redis.hgetall(_key(run_id))  # type: ignore[misc]
        return {k.decode() if isinstance(k, bytes) else k: int(v) for k, v in raw.items()}

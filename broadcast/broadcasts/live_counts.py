"""The counters of a send being watched, counted at most once a second per process.

A send's page polls its progress every few seconds, and several operators (and tabs) may
watch the same académie-wide send: each poll counting its 100,000 deliveries again would cost
the database more than the send itself. Here one count per broadcast serves every poll of the
next second; polls that come while it is being counted wait for that one count instead of
starting their own. The figures are at most a second old, which a progress bar does not show.
One cache per app process (``app.state``), never shared between databases.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from broadcast.broadcasts.service import counters

Counters = dict[str, dict[str, int]]
FRESH_FOR_S = 1.0
KEPT_AT_MOST = 512
"""Broadcasts remembered before the stale ones are forgotten."""


class LiveCounts:
    def __init__(
        self, fresh_for_s: float = FRESH_FOR_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._fresh_for_s = fresh_for_s
        self._clock = clock
        self._counted: dict[int, tuple[float, Counters]] = {}
        self._counting: dict[int, asyncio.Lock] = {}

    async def counters(self, session: AsyncSession, broadcast_id: int) -> Counters:
        """:func:`broadcast.broadcasts.service.counters`, at most ``fresh_for_s`` old."""
        fresh = self._fresh(broadcast_id)
        if fresh is not None:
            return fresh
        async with self._counting.setdefault(broadcast_id, asyncio.Lock()):
            fresh = self._fresh(broadcast_id)
            if fresh is None:
                fresh = await counters(session, broadcast_id)
                self._keep(broadcast_id, fresh)
        return fresh

    def _fresh(self, broadcast_id: int) -> Counters | None:
        found = self._counted.get(broadcast_id)
        if found is None or self._clock() - found[0] >= self._fresh_for_s:
            return None
        return found[1]

    def _keep(self, broadcast_id: int, value: Counters) -> None:
        now = self._clock()
        if len(self._counted) >= KEPT_AT_MOST:
            stale = [k for k, (at, _) in self._counted.items() if now - at >= self._fresh_for_s]
            for key in stale:
                del self._counted[key]
                lock = self._counting.get(key)
                if lock is not None and not lock.locked():
                    del self._counting[key]
        self._counted[broadcast_id] = (now, value)

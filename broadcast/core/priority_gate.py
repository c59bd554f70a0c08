"""A worker's sends in flight to one channel, urgent ones first.

The rate limiter makes a bulk send yield its tokens to an urgent one, but the groups a bulk send
already took tokens for still queue, message by message, for the channel's connections: up to
``max_jobs`` groups of a hundred per worker, two seconds of sending before an urgent message got
a connection. The gate lets at most ``capacity`` sends through at once (as many as the channel
has connections, so the queue forms here and not in the connection pool) and hands a freed slot
to a waiting urgent send before any waiting bulk one.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class PriorityGate:
    """At most ``capacity`` holders at once; waiting urgent holders go before waiting others,
    each kind in the order it came."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity}")
        self._free = capacity
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._others: deque[asyncio.Future[None]] = deque()

    @asynccontextmanager
    async def slot(self, urgent: bool) -> AsyncIterator[None]:
        await self._acquire(urgent)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, urgent: bool) -> None:
        if self._free > 0:  # a slot is only ever free when no one waits (see _release)
            self._free -= 1
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        (self._urgent if urgent else self._others).append(granted)
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self._release()  # the slot came as the waiter was cancelled: pass it on
            raise

    def _release(self) -> None:
        """Hand the slot to the first live urgent waiter, else the first other, else free it."""
        for waiters in (self._urgent, self._others):
            while waiters:
                granted = waiters.popleft()
                if not granted.done():
                    granted.set_result(None)
                    return
        self._free += 1

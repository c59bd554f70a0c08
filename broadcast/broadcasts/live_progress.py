"""A send's live progress as its page polls it: the broadcast's row (status, channels), its
organisation's path and its progress per channel, read at most once a second per process,
with what a caller builds from them (the answer in one language, for one role) kept for as
long. The scope is checked on every call, against the organisation's path read with the
row: a send outside the reader's subtree is None, as an absent one is (the caller answers
404 for both, RULES A1). Counts come through :class:`~broadcast.broadcasts.live_counts.
LiveCounts`, so the figures are never more than a second or two old.
One cache per app process (``app.state``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field

from broadcast.accounts.scoped import covers
from broadcast.accounts.service import Principal
from broadcast.broadcasts.live_counts import LiveCounts
from broadcast.broadcasts.models import Broadcast
from broadcast.broadcasts.overview import ChannelProgress, progress_of
from broadcast.core.db import SessionFactory
from broadcast.directory.models import Organisation

FRESH_FOR_S = 1.0
KEPT_AT_MOST = 512


@dataclass(slots=True)
class Snapshot:
    broadcast: Broadcast
    organisation_path: str
    progress: list[ChannelProgress]
    taken_at: float
    built: dict[Hashable, bytes] = field(default_factory=dict)


Build = Callable[[Snapshot], Awaitable[bytes]]


class LiveProgress:
    def __init__(
        self,
        counts: LiveCounts,
        fresh_for_s: float = FRESH_FOR_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._counts = counts
        self._fresh_for_s = fresh_for_s
        self._clock = clock
        self._taken: dict[int, Snapshot] = {}
        self._reading: dict[int, asyncio.Lock] = {}

    async def answer(
        self,
        factory: SessionFactory,
        principal: Principal,
        broadcast_id: int,
        variant: Hashable,
        build: Build,
    ) -> bytes | None:
        """``build(snapshot)`` for this ``variant`` (what the answer depends on besides the
        send: language, role), built once per snapshot; None when the send is absent or
        outside the principal's scope."""
        snapshot = await self._snapshot(factory, broadcast_id)
        if snapshot is None or not covers(principal.scope_path, snapshot.organisation_path):
            return None
        built = snapshot.built.get(variant)
        if built is None:
            built = snapshot.built[variant] = await build(snapshot)
        return built

    async def _snapshot(self, factory: SessionFactory, broadcast_id: int) -> Snapshot | None:
        fresh = self._fresh(broadcast_id)
        if fresh is not None:
            return fresh
        async with self._reading.setdefault(broadcast_id, asyncio.Lock()):
            fresh = self._fresh(broadcast_id)
            if fresh is None:
                fresh = await self._read(factory, broadcast_id)
                if fresh is None:
                    self._taken.pop(broadcast_id, None)
                else:
                    self._keep(broadcast_id, fresh)
        return fresh

    def _fresh(self, broadcast_id: int) -> Snapshot | None:
        found = self._taken.get(broadcast_id)
        if found is None or self._clock() - found.taken_at >= self._fresh_for_s:
            return None
        return found

    async def _read(self, factory: SessionFactory, broadcast_id: int) -> Snapshot | None:
        async with factory() as session:
            broadcast = await session.get(Broadcast, broadcast_id)
            if broadcast is None:
                return None
            organisation = await session.get(Organisation, broadcast.organisation_id)
            if organisation is None:
                return None
            progress = await progress_of(session, broadcast, self._counts)
            return Snapshot(broadcast, organisation.path, progress, self._clock())

    def _keep(self, broadcast_id: int, snapshot: Snapshot) -> None:
        if len(self._taken) >= KEPT_AT_MOST:
            now = self._clock()
            stale = [k for k, v in self._taken.items() if now - v.taken_at >= self._fresh_for_s]
            for key in stale:
                del self._taken[key]
                lock = self._reading.get(key)
                if lock is not None and not lock.locked():
                    del self._reading[key]
        self._taken[broadcast_id] = snapshot

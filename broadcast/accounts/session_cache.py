"""Console sessions remembered for a few seconds by one process, for the requests a page's
script repeats (a send's live progress, polled by every operator watching it).

A hit costs a hash and a dict lookup instead of a database round trip. What a hit gives is
what :func:`broadcast.accounts.signin.find_session` said at most :data:`FRESH_FOR_S` ago:
a session closed (sign-out, password changed, operator disabled) is refused by the next
lookup after that, and a session past its idle or absolute timeout is never given, even
from memory. Only live sessions with their second factor done are remembered; anything
else is looked up again each time (and left to the ordinary route, which answers it).
One cache per app process (``app.state``).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from broadcast.accounts.service import Principal, principal_for
from broadcast.accounts.signin import ABSOLUTE_TIMEOUT, IDLE_TIMEOUT, find_session
from broadcast.core.db import SessionFactory, transaction
from broadcast.core.timeutil import utcnow
from broadcast.directory.models import Organisation

FRESH_FOR_S = 2.0
KEPT_AT_MOST = 4096
MAX_TOKEN = 100


@dataclass(frozen=True, slots=True)
class KnownSession:
    principal: Principal
    locale: str
    checked_at: float
    """On the cache's clock (monotonic)."""
    ends_at: datetime
    """When the session times out by itself (idle or absolute), as of the lookup."""


class SessionCache:
    def __init__(
        self,
        fresh_for_s: float = FRESH_FOR_S,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self._fresh_for_s = fresh_for_s
        self._clock = clock
        self._now = now
        self._known: dict[str, KnownSession] = {}
        self._looking: dict[str, asyncio.Lock] = {}

    async def lookup(self, factory: SessionFactory, token: str | None) -> KnownSession | None:
        """The live, fully signed-in session of ``token``, at most ``fresh_for_s`` old;
        None when there is none (or only a first factor)."""
        if not token or len(token) > MAX_TOKEN:
            return None
        key = hashlib.sha256(token.encode()).hexdigest()
        fresh = self._fresh(key)
        if fresh is not None:
            return fresh
        async with self._looking.setdefault(key, asyncio.Lock()):
            fresh = self._fresh(key)
            if fresh is None:
                fresh = await self._look_up(factory, token)
                if fresh is None:
                    self._known.pop(key, None)
                else:
                    self._keep(key, fresh)
        self._looking.pop(key, None)
        return fresh

    def forget(self, token: str | None) -> None:
        """After this process closed the session: refused here at once, not seconds later."""
        if token:
            self._known.pop(hashlib.sha256(token.encode()).hexdigest(), None)

    def _fresh(self, key: str) -> KnownSession | None:
        found = self._known.get(key)
        if found is None or self._clock() - found.checked_at >= self._fresh_for_s:
            return None
        if self._now() >= found.ends_at:
            return None
        return found

    async def _look_up(self, factory: SessionFactory, token: str) -> KnownSession | None:
        async with transaction(factory) as session:  # find_session touches or deletes the row
            found = await find_session(session, token)
            if found is None or not found[0].second_factor_done:
                return None
            row, operator = found
            organisation = await session.get(Organisation, operator.organisation_id)
            assert organisation is not None
            ends_at = min(row.last_seen_at + IDLE_TIMEOUT, row.created_at + ABSOLUTE_TIMEOUT)
            return KnownSession(
                principal_for(operator, organisation), operator.locale, self._clock(), ends_at
            )

    def _keep(self, key: str, known: KnownSession) -> None:
        if len(self._known) >= KEPT_AT_MOST:
            now = self._clock()
            stale = [k for k, v in self._known.items() if now - v.checked_at >= self._fresh_for_s]
            for gone in stale:
                del self._known[gone]
        self._known[key] = known

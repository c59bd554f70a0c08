"""Provider accounts paused when they refuse our credentials or keep failing (a circuit breaker).

listmonk pauses a campaign after N send errors; here the account is paused, not the broadcast,
so that a second account (in settings order) carries the send. A pause is a Redis key shared
by every worker, which expires after ``probe_after_s``: the account is then tried again (the
half-open state) and paused again at once if it still refuses. While every account of a channel
is paused, its deliveries stay queued (a transient outcome, never a failure) and the broadcast
says why (:attr:`broadcast.broadcasts.models.Broadcast.held_reason`).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence

from redis.asyncio import Redis

from broadcast.core.metrics import ACCOUNT_PAUSES

log = logging.getLogger(__name__)

CREDENTIALS_REFUSED = "en pause : le fournisseur refuse nos identifiants"
FAILING = "en pause : le fournisseur ne répond plus"
FAILURES_BEFORE_PAUSE = 20
"""Transient failures in a row of one account, seen by one worker, that pause it."""
ALERT_EVERY_S = 3600
_REFRESH_S = 1.0
_KEY = "broadcast:account-paused:"


def unique_names(names: Sequence[str]) -> list[str]:
    """Accounts' names, made unique by their position where two share one ("default#2")."""
    counts = Counter(names)
    return [n if counts[n] == 1 else f"{n}#{i}" for i, n in enumerate(names, start=1)]


class AccountHealth:
    """Which accounts of one channel may be used now; ``redis`` None: never paused (tests)."""

    def __init__(self, redis: Redis | None, channel: str, probe_after_s: float) -> None:
        self._redis = redis
        self._channel = channel
        self._probe_after_ms = max(int(probe_after_s * 1000), 1)
        self._paused: dict[str, str] = {}
        self._read_at = 0.0
        self._failures: Counter[str] = Counter()

    def _key(self, account: str) -> str:
        return f"{_KEY}{self._channel}:{account}"

    async def usable(self, accounts: Sequence[str]) -> list[str]:
        """``accounts`` not paused, in their order; read from Redis at most once a second."""
        if self._redis is not None and time.monotonic() - self._read_at > _REFRESH_S:
            reasons = await self._redis.mget([self._key(a) for a in accounts])
            self._paused = {a: r.decode() for a, r in zip(accounts, reasons, strict=True) if r}
            self._read_at = time.monotonic()
        return [a for a in accounts if a not in self._paused]

    def reason(self) -> str:
        """Why the accounts are paused: refused credentials first, they need the operator."""
        reasons = set(self._paused.values())
        return CREDENTIALS_REFUSED if CREDENTIALS_REFUSED in reasons or not reasons else FAILING

    async def pause(self, account: str, reason: str) -> bool:
        """Pause ``account`` until the next probe; True for the one call, across workers, that
        should alert the operators (once per ``ALERT_EVERY_S``, not at every failed probe)."""
        if account in self._paused:
            return False
        self._paused[account] = reason
        self._failures.pop(account, None)
        ACCOUNT_PAUSES.labels(self._channel, account, reason).inc()
        log.warning("%s account %s paused: %s", self._channel, account, reason)
        if self._redis is None:
            return True
        await self._redis.set(self._key(account), reason, px=self._probe_after_ms)
        first = await self._redis.set(
            f"{self._key(account)}:alerted", reason, ex=ALERT_EVERY_S, nx=True
        )
        return bool(first)

    async def note(self, account: str, *, failed: bool) -> None:
        """One more answer of ``account``: N transient failures in a row pause it."""
        if not failed:
            self._failures.pop(account, None)
            return
        self._failures[account] += 1
        if self._failures[account] >= FAILURES_BEFORE_PAUSE:
            await self.pause(account, FAILING)

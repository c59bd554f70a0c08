"""Provider accounts paused when they refuse our credentials or keep failing (a circuit breaker).

listmonk pauses a campaign after N send errors; here the account is paused, not the broadcast,
so that a second account (in settings order) carries the send. A pause is a Redis key shared
by every worker, which expires after ``probe_after_s``; a second key says the account is still
open (failing) after that. Then the account is half-open: ONE message, of one worker, probes it
(whoever takes the probe key, ``SET NX``, which expires after ``probe_after_s`` too in case the
prober dies); every other send keeps treating the account as paused. The probe's answer closes
the account (any answer that is not about the account: every worker resumes within a second)
or pauses it again at once. So a refusing provider sees one request per ``probe_after_s``,
whatever the number of workers. While every account of a channel is paused, its deliveries stay
queued (a transient outcome, never a failure) and the broadcast says why
(:attr:`broadcast.broadcasts.models.Broadcast.held_reason`).
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
OPEN_FOR_S = 24 * 3600
"""How long an account stays half-open without any probe (then it is simply tried again)."""
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
        self._half_open: dict[str, str] = {}
        self._probing: dict[str, tuple[str, float]] = {}
        """The accounts this worker probes: the reason they were paused for, and until when
        (``time.monotonic()``) the probe is ours (a send cancelled midway never answers)."""
        self._read_at = 0.0
        self._failures: Counter[str] = Counter()

    def _key(self, account: str) -> str:
        return f"{_KEY}{self._channel}:{account}"

    async def usable(self, accounts: Sequence[str]) -> list[str]:
        """``accounts`` not paused, in their order; or, when this call takes the probe of a
        half-open account, that account alone (this one message probes it). Read from Redis at
        most once a second."""
        if self._redis is not None and time.monotonic() - self._read_at > _REFRESH_S:
            await self._refresh(accounts)
        for account in [a for a in accounts if a in self._half_open]:
            if await self._take_probe(account):
                return [account]
        waiting = {*self._paused, *self._half_open, *self._probing}
        return [a for a in accounts if a not in waiting]

    async def _refresh(self, accounts: Sequence[str]) -> None:
        assert self._redis is not None
        keys = [self._key(a) for a in accounts] + [f"{self._key(a)}:open" for a in accounts]
        found = await self._redis.mget(keys)
        paused, still_open = found[: len(accounts)], found[len(accounts) :]
        now = time.monotonic()
        self._probing = {a: probe for a, probe in self._probing.items() if probe[1] > now}
        self._paused = {a: r.decode() for a, r in zip(accounts, paused, strict=True) if r}
        self._half_open = {
            a: r.decode()
            for a, r in zip(accounts, still_open, strict=True)
            if r and a not in self._paused and a not in self._probing
        }
        self._read_at = now

    async def _take_probe(self, account: str) -> bool:
        """Whether this call probes ``account``; until the next read, this worker's other
        sends treat it as paused (another message, maybe of another worker, probes it)."""
        assert self._redis is not None
        reason = self._half_open.pop(account)
        self._paused[account] = reason  # while the answer comes, for the sends beside this one
        taken = await self._redis.set(
            f"{self._key(account)}:probe", 1, px=self._probe_after_ms, nx=True
        )
        if not taken:
            return False
        self._paused.pop(account, None)
        self._probing[account] = (reason, time.monotonic() + self._probe_after_ms / 1000)
        log.info("%s account %s half-open: one message probes it", self._channel, account)
        return True

    def reason(self) -> str:
        """Why the accounts are paused: refused credentials first, they need the operator."""
        reasons = set(self._paused.values()) | set(self._half_open.values())
        return CREDENTIALS_REFUSED if CREDENTIALS_REFUSED in reasons or not reasons else FAILING

    async def pause(self, account: str, reason: str) -> bool:
        """Pause ``account`` until the next probe; True for the one call, across workers, that
        should alert the operators (once per ``ALERT_EVERY_S``, not at every failed probe)."""
        if account in self._paused:
            return False
        self._paused[account] = reason
        self._probing.pop(account, None)
        self._failures.pop(account, None)
        ACCOUNT_PAUSES.labels(self._channel, account, reason).inc()
        log.warning("%s account %s paused: %s", self._channel, account, reason)
        if self._redis is None:
            return True
        key = self._key(account)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(key, reason, px=self._probe_after_ms)
            pipe.set(f"{key}:open", reason, ex=OPEN_FOR_S)
            pipe.delete(f"{key}:probe")
            await pipe.execute()
        first = await self._redis.set(f"{key}:alerted", reason, ex=ALERT_EVERY_S, nx=True)
        return bool(first)

    async def note(self, account: str, *, failed: bool) -> None:
        """One more answer of ``account``: N transient failures in a row pause it; a probe's
        failure pauses it at once, a probe's success closes it for every worker."""
        if account in self._probing:
            if failed:  # still refusing: paused again, for the reason it was paused for
                await self.pause(account, self._probing[account][0])
            else:
                await self._close(account)
            return
        if not failed:
            self._failures.pop(account, None)
            return
        self._failures[account] += 1
        if self._failures[account] >= FAILURES_BEFORE_PAUSE:
            await self.pause(account, FAILING)

    async def _close(self, account: str) -> None:
        self._probing.pop(account, None)
        self._failures.pop(account, None)
        if self._redis is not None:
            key = self._key(account)
            await self._redis.delete(f"{key}:open", f"{key}:probe")
        log.warning("%s account %s works again: closed", self._channel, account)

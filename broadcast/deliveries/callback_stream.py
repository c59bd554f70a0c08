"""Provider status callbacks at line rate (issue 13, item 4): the API checks a callback's
signature, appends the parsed status to a Redis stream and answers, with no database
connection; the workers read the stream in a consumer group and apply what it holds in bulk,
one transaction per batch, forward-only (RULES D5).

Nothing is lost: an entry is acknowledged only once its batch committed, and the entries a
killed worker had read are claimed by another after :data:`CLAIM_IDLE_MS`. A status whose
message id no delivery holds yet is kept for the dispatcher (:mod:`early_status`), as a
callback applied directly would be. When Redis cannot take the entry the API applies the
status itself, so a Redis blip does not lose it either.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import Sequence

from redis.asyncio import Redis
from redis.exceptions import ResponseError
from sqlalchemy.ext.asyncio import AsyncSession

from broadcast.channels.base import ChannelName, ProviderStatus
from broadcast.core.db import SessionFactory, transaction
from broadcast.core.metrics import CALLBACK_LAG, CALLBACKS
from broadcast.deliveries.early_status import EarlyStatuses
from broadcast.deliveries.models import Delivery, DeliveryStatus
from broadcast.deliveries.provider_status import apply_statuses_to, deliveries_by_message_ids

log = logging.getLogger(__name__)

STREAM = "broadcast:callbacks"
GROUP = "appliers"
MAX_LENGTH = 2_000_000
"""Entries kept at most (approximately): far more than a day of an académie's SMS callbacks."""
BATCH = 1000
CLAIM_IDLE_MS = 30_000

Entry = tuple[str, ProviderStatus]


PROVIDER_OF = {ChannelName.sms.value: "twilio"}
"""The provider label of a channel's callbacks in the metrics."""


_STATUS_FIELDS = tuple(field.name for field in dataclasses.fields(ProviderStatus))
"""What :func:`dataclasses.asdict` would copy, read without its deep copy (a callback's cost)."""


def encode(channel: ChannelName, news: ProviderStatus) -> dict[str, str]:
    return {
        "c": channel.value,
        "s": json.dumps({name: getattr(news, name) for name in _STATUS_FIELDS}),
        "t": repr(time.time()),
    }


def decode(fields: dict[bytes, bytes]) -> Entry | None:
    """The entry's channel and status; None (logged) for an entry no version of us wrote."""
    try:
        values = json.loads(fields[b"s"])
        values["status"] = DeliveryStatus(values["status"])
        return fields[b"c"].decode(), ProviderStatus(**values)
    except (KeyError, ValueError, TypeError):
        log.error("callback stream: an unreadable entry was dropped")
        return None


def _observe_lag(rows: Sequence[tuple[bytes, dict[bytes, bytes]]], moved: int) -> None:
    now = time.time()
    provider = ""
    for _, fields in rows:
        channel = fields.get(b"c", b"").decode()
        provider = PROVIDER_OF.get(channel, channel)
        CALLBACK_LAG.labels(provider).observe(max(0.0, now - float(fields.get(b"t", now))))
    CALLBACKS.labels(provider, "applied").inc(moved)
    CALLBACKS.labels(provider, "unchanged").inc(len(rows) - moved)


class CallbackStream:
    """The stream as the API appends to it and as the workers apply it."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._waiting: list[tuple[dict[str, str], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def append(self, channel: ChannelName, news: ProviderStatus) -> None:
        """Append one entry; returns once Redis holds it, raises what Redis raised.

        Appends made while a write is on its way wait for the next one, which carries them
        all in one pipeline: one round trip for many callbacks, as a database's group commit."""
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((encode(channel, news), written))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write_waiting())
        await written

    async def _write_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for fields, _ in batch:
                        pipe.xadd(STREAM, fields, maxlen=MAX_LENGTH, approximate=True)  # type: ignore[arg-type]
                    await pipe.execute()
            except Exception as exc:  # each caller raises it: the API then applies directly
                _settle(batch, exc)
            else:
                _settle(batch, None)

    async def _ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _read(
        self, consumer: str, block_ms: int | None, claim_idle_ms: int
    ) -> list[tuple[bytes, dict[bytes, bytes]]]:
        """Entries left by a dead consumer first, then new ones."""
        claimed = await self.redis.xautoclaim(
            STREAM, GROUP, consumer, min_idle_time=claim_idle_ms, start_id="0-0", count=BATCH
        )
        rows = list(claimed[1])
        if not rows:
            found = await self.redis.xreadgroup(
                GROUP, consumer, {STREAM: ">"}, count=BATCH, block=block_ms
            )
            rows = [row for _, stream_rows in found for row in stream_rows]
        return [(entry_id, fields) for entry_id, fields in rows if fields]

    async def apply_batch(
        self,
        factory: SessionFactory,
        early: EarlyStatuses,
        consumer: str,
        *,
        block_ms: int | None = None,
        claim_idle_ms: int = CLAIM_IDLE_MS,
    ) -> int:
        """Read up to :data:`BATCH` entries, apply them in one transaction, acknowledge them.
        Returns how many were read (0: the stream is drained)."""
        await self._ensure_group()
        rows = await self._read(consumer, block_ms, claim_idle_ms)
        if not rows:
            return 0
        async with transaction(factory) as session:
            entries = [entry for _, fields in rows if (entry := decode(fields)) is not None]
            moved = await apply_entries(session, early, entries)
        _observe_lag(rows, moved)
        ids = [entry_id for entry_id, _ in rows]
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xack(STREAM, GROUP, *ids)
            pipe.xdel(STREAM, *ids)
            await pipe.execute()
        return len(rows)

    async def drain(self, factory: SessionFactory, early: EarlyStatuses, consumer: str) -> int:
        """Apply every entry there is now; the total applied."""
        total = 0
        while applied := await self.apply_batch(factory, early, consumer):
            total += applied
        return total


def _settle(
    batch: Sequence[tuple[dict[str, str], asyncio.Future[None]]], error: Exception | None
) -> None:
    for _, written in batch:
        if written.done():  # its caller went away
            continue
        if error is None:
            written.set_result(None)
        else:
            written.set_exception(error)


async def apply_entries(
    session: AsyncSession, early: EarlyStatuses, entries: Sequence[Entry]
) -> int:
    """Apply parsed statuses, finding their deliveries with one query per channel and moving
    them in bulk, forward-only (:func:`apply_statuses_to`). A status for an id no delivery
    holds yet is kept for the dispatcher. The number of moves."""
    moved = 0
    for channel in {channel for channel, _ in entries}:
        news = [n for c, n in entries if c == channel]
        found = await _found_or_kept(session, early, channel, news)
        moved += await apply_statuses_to(session, found, news)
    return moved


async def _found_or_kept(
    session: AsyncSession, early: EarlyStatuses, channel: str, news: list[ProviderStatus]
) -> dict[str, Delivery]:
    """The deliveries the statuses name; those not recorded yet are kept for the dispatcher,
    then looked for again (it commits the id, then reads what was kept)."""
    found = await deliveries_by_message_ids(session, channel, [n.provider_message_id for n in news])
    early_ones = [n for n in news if n.provider_message_id not in found]
    for item in early_ones:
        await early.keep(ChannelName(channel), item)
    if early_ones:
        ids = [n.provider_message_id for n in early_ones]
        found |= await deliveries_by_message_ids(session, channel, ids)
        await early.forget([i for i in ids if i in found])
    return found

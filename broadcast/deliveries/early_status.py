"""Status callbacks that arrive before the dispatcher has stored the provider's message id.

Twilio may call back within milliseconds of the create, while the dispatcher is still sending
the rest of its group, so a callback can name a SID no delivery holds yet. Such a status, parsed
(:class:`ProviderStatus`), is kept in one small Redis hash (message id -> the most advanced status
seen, with its channel), which expires an hour after its last write, and applied once the
dispatcher records the ids (:meth:`EarlyStatuses.apply_recorded`). Applying is forward-only
(RULES D5), so a status that both sides apply, or one applied late, changes nothing more.

No status is lost between the two sides: the callback keeps its status *then* looks for the
id again, and the dispatcher commits the id *then* reads the hash; whichever comes second
sees the other's write.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from broadcast.channels.base import ChannelName, ProviderStatus, SendResult
from broadcast.core.db import SessionFactory, transaction
from broadcast.deliveries.models import STATUS_RANK, DeliveryStatus
from broadcast.deliveries.provider_status import (
    apply_status_to,
    apply_statuses_to,
    deliveries_by_message_ids,
    delivery_by_message_id,
)

log = logging.getLogger(__name__)

KEY = "broadcast:early-status"
TTL_S = 3600

# KEYS[1]: the hash; ARGV: id, rank, "rank|json", ttl. Keeps the most advanced status per id.
_KEEP = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if (not current) or tonumber(string.match(current, '^(%d+)|')) < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""


class EarlyStatuses:
    """The store of statuses waiting for their message id, shared by the API and the workers."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._keep = redis.register_script(_KEEP)

    async def keep(self, channel: ChannelName, news: ProviderStatus) -> None:
        rank = STATUS_RANK[news.status]
        kept = json.dumps({"channel": channel.value, **dataclasses.asdict(news)})
        args: list[str | int] = [news.provider_message_id, rank, f"{rank}|{kept}", TTL_S]
        await self._keep(keys=[KEY], args=args)

    async def forget(self, ids: Sequence[str]) -> None:
        if ids:
            await self._redis.hdel(KEY, *ids)  # type: ignore[misc]  # redis-py's sync/async union

    async def apply_recorded(
        self, factory: SessionFactory, channel: str, results: Sequence[SendResult]
    ) -> int:
        """After the dispatcher committed ``results``: apply what was kept for their ids."""
        ids = [r.provider_message_id for r in results if r.provider_message_id]
        if not ids:
            return 0
        found = await self._redis.hmget(KEY, ids)  # type: ignore[misc]
        kept = [news for news in (_decode(raw, channel) for raw in found if raw) if news]
        if not kept:
            return 0
        async with transaction(factory) as session:
            found = await deliveries_by_message_ids(
                session, channel, [news.provider_message_id for news in kept]
            )
            await apply_statuses_to(session, found, kept)
        await self.forget([news.provider_message_id for news in kept])
        log.info("applied %d status callback(s) that came before their id", len(kept))
        return len(kept)


def _decode(raw: bytes | str, channel: str) -> ProviderStatus | None:
    """The status kept in ``raw``, if it was kept for ``channel``."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    fields = json.loads(text.partition("|")[2])
    if fields.pop("channel") != channel:
        return None
    fields["status"] = DeliveryStatus(fields["status"])
    return ProviderStatus(**fields)


async def receive_status(
    session: AsyncSession, early: EarlyStatuses | None, channel: ChannelName, news: ProviderStatus
) -> bool:
    """Apply a parsed status callback; one whose id no delivery holds yet is kept for the
    dispatcher. True when a delivery moved."""
    message_id = news.provider_message_id
    delivery = await delivery_by_message_id(session, channel, message_id)
    if delivery is None and early is not None:
        await early.keep(channel, news)
        delivery = await delivery_by_message_id(session, channel, message_id)  # recorded meanwhile?
        if delivery is not None:
            await early.forget([message_id])
    if delivery is None:
        return False
    return await apply_status_to(session, delivery, news)

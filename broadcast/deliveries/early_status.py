"""Twilio status callbacks that arrive before the dispatcher has stored the message SID.

Twilio may call back within milliseconds of the create, while the dispatcher is still sending
the rest of its group, so a callback can name a SID no delivery holds yet. Such a status is kept
in one small Redis hash (SID -> the most advanced status seen, with its error code), which
expires an hour after its last write, and applied once the dispatcher records the SIDs
(:meth:`EarlyStatuses.apply_recorded`). Applying is forward-only (RULES D5), so a status that
both sides apply, or one applied late, changes nothing more.

No status is lost between the two sides: the callback keeps its status *then* looks for the
SID again, and the dispatcher commits the SID *then* reads the hash; whichever comes second
sees the other's write.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from broadcast.channels.base import ChannelName, SendResult
from broadcast.core.db import SessionFactory, transaction
from broadcast.deliveries.models import STATUS_RANK
from broadcast.deliveries.provider_status import (
    TWILIO_STATUSES,
    apply_status_to,
    sms_delivery,
)

log = logging.getLogger(__name__)

KEY = "broadcast:twilio:early-status"
TTL_S = 3600
_KEPT_PARAMS = ("MessageSid", "MessageStatus", "ErrorCode", "AccountSid")

# KEYS[1]: the hash; ARGV: sid, rank, "rank|json", ttl. Keeps the most advanced status per SID.
_KEEP = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if (not current) or tonumber(string.match(current, '^(%d+)|')) < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""


class EarlyStatuses:
    """The store of statuses waiting for their SID, shared by the API and the workers."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._keep = redis.register_script(_KEEP)

    async def keep(self, sid: str, params: Mapping[str, str]) -> None:
        status = TWILIO_STATUSES[params.get("MessageStatus", "").lower()]
        kept = {name: params[name] for name in _KEPT_PARAMS if params.get(name)}
        rank = STATUS_RANK[status]
        await self._keep(keys=[KEY], args=[sid, rank, f"{rank}|{json.dumps(kept)}", TTL_S])

    async def forget(self, sids: Sequence[str]) -> None:
        if sids:
            await self._redis.hdel(KEY, *sids)  # type: ignore[misc]  # redis-py's sync/async union

    async def apply_recorded(
        self, factory: SessionFactory, channel: str, results: Sequence[SendResult]
    ) -> int:
        """After the dispatcher committed ``results``: apply what was kept for their SIDs."""
        sids = [r.provider_message_id for r in results if r.provider_message_id]
        if channel != ChannelName.sms or not sids:
            return 0
        found = await self._redis.hmget(KEY, sids)  # type: ignore[misc]
        kept = [_decode(raw) for raw in found if raw]
        if not kept:
            return 0
        async with transaction(factory) as session:
            for params in kept:
                delivery = await sms_delivery(session, params["MessageSid"])
                if delivery is not None:
                    await apply_status_to(session, delivery, params)
        await self.forget([p["MessageSid"] for p in kept])
        log.info("applied %d status callback(s) that came before their SID", len(kept))
        return len(kept)


def _decode(raw: bytes | str) -> dict[str, str]:
    text = raw.decode() if isinstance(raw, bytes) else raw
    decoded: dict[str, str] = json.loads(text.partition("|")[2])
    return decoded


async def receive_status(
    session: AsyncSession, early: EarlyStatuses | None, params: Mapping[str, str]
) -> bool:
    """Apply a status callback; one whose SID no delivery holds yet is kept for the
    dispatcher. True when a delivery moved."""
    sid = params.get("MessageSid", "")
    delivery = await sms_delivery(session, sid)
    if delivery is None and early is not None and _known_status(params):
        await early.keep(sid, params)
        delivery = await sms_delivery(session, sid)  # recorded meanwhile? then apply it here
        if delivery is not None:
            await early.forget([sid])
    if delivery is None:
        return False
    return await apply_status_to(session, delivery, params)


def _known_status(params: Mapping[str, str]) -> bool:
    return bool(params.get("MessageSid")) and (
        params.get("MessageStatus", "").lower() in TWILIO_STATUSES
    )

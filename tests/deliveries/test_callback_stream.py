"""Status callbacks through the Redis stream (issue 13, item 4): the API answers without the
database, the workers apply in bulk and forward-only, and a dead applier's entries are taken
over; on both databases, with real Redis."""

from __future__ import annotations

import redis.asyncio as aioredis
from sqlalchemy import select

from broadcast.channels.base import ChannelName, ProviderStatus
from broadcast.core.db import SessionFactory, transaction
from broadcast.deliveries.callback_stream import GROUP, STREAM, CallbackStream
from broadcast.deliveries.early_status import KEY, EarlyStatuses
from broadcast.deliveries.models import Delivery, DeliveryStatus
from broadcast.settings import Settings, TwilioAccount
from tests.deliveries.test_early_status import STATUS_PATH, draft_broadcast
from tests.sms_support import ACCOUNT_SID, AUTH_TOKEN, sign
from tests.support import api, build_world


async def _sent_deliveries(factory: SessionFactory, settings: Settings, count: int) -> list[str]:
    """``count`` SMS deliveries handed to Twilio (status sent, a SID each); their SIDs."""
    world = await build_world(factory)
    async with api(settings) as client:
        draft = await draft_broadcast(client, world.keys["head_x"], world.school_x)
    sids = [f"SM{n:032d}" for n in range(count)]
    async with transaction(factory) as session:
        session.add_all(
            Delivery(
                broadcast_id=draft["id"],
                channel="sms",
                address=f"+336{n:08d}",
                status="sent",
                provider_message_id=sid,
            )
            for n, sid in enumerate(sids)
        )
    return sids


async def _statuses(factory: SessionFactory) -> dict[str, str]:
    async with factory() as session:
        rows = await session.execute(select(Delivery.provider_message_id, Delivery.status))
        return {sid: status for sid, status in rows.all() if sid}


async def test_a_callback_is_answered_without_the_database_then_applied(
    settings: Settings, factory: SessionFactory, redis: aioredis.Redis
) -> None:
    [sid] = await _sent_deliveries(factory, settings, 1)
    twilio = TwilioAccount(
        name="t", account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, sender_id="Rectorat"
    )
    no_database = settings.model_copy(
        update={
            "database_url": "postgresql+asyncpg://nobody@127.0.0.1:9/absent",
            "twilio_accounts": [twilio],
        }
    )
    params = {"MessageSid": sid, "AccountSid": ACCOUNT_SID, "MessageStatus": "delivered"}
    async with api(no_database) as client:
        answer = await client.post(
            STATUS_PATH, data=params, headers=sign(settings, STATUS_PATH, params)
        )
    assert answer.status_code == 204
    assert await redis.xlen(STREAM) == 1
    assert await _statuses(factory) == {sid: "sent"}  # not applied by the API

    applied = await CallbackStream(redis).drain(factory, EarlyStatuses(redis), "w1")
    assert applied == 1
    assert await _statuses(factory) == {sid: "delivered"}
    assert await redis.xlen(STREAM) == 0


async def test_statuses_are_applied_in_bulk_and_only_forward(
    settings: Settings, factory: SessionFactory, redis: aioredis.Redis
) -> None:
    sids = await _sent_deliveries(factory, settings, 1500)
    stream = CallbackStream(redis)
    for sid in sids:
        await stream.append(ChannelName.sms, ProviderStatus(sid, DeliveryStatus.delivered))
    for sid in sids[:10]:  # late "sent" after "delivered": changes nothing
        await stream.append(ChannelName.sms, ProviderStatus(sid, DeliveryStatus.sent))
    early = EarlyStatuses(redis)
    first = await stream.apply_batch(factory, early, "w1")
    assert first == 1000  # one batch, one transaction
    assert await stream.drain(factory, early, "w1") == 510
    assert set((await _statuses(factory)).values()) == {"delivered"}


async def test_a_status_before_its_sid_is_kept_for_the_dispatcher(
    settings: Settings, factory: SessionFactory, redis: aioredis.Redis
) -> None:
    await _sent_deliveries(factory, settings, 1)
    stream = CallbackStream(redis)
    unknown = "SM" + "9" * 32
    await stream.append(ChannelName.sms, ProviderStatus(unknown, DeliveryStatus.delivered))
    assert await stream.drain(factory, EarlyStatuses(redis), "w1") == 1
    kept = await redis.hget(KEY, unknown)
    assert kept is not None and b'"status": "delivered"' in kept


async def test_a_dead_appliers_entries_are_taken_over(
    settings: Settings, factory: SessionFactory, redis: aioredis.Redis
) -> None:
    sids = await _sent_deliveries(factory, settings, 3)
    stream = CallbackStream(redis)
    for sid in sids:
        await stream.append(ChannelName.sms, ProviderStatus(sid, DeliveryStatus.delivered))
    await redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    read = await redis.xreadgroup(GROUP, "dead", {STREAM: ">"}, count=10)  # then killed
    assert len(read[0][1]) == 3
    early = EarlyStatuses(redis)
    assert await stream.apply_batch(factory, early, "alive") == 0  # not idle long enough yet
    assert await stream.apply_batch(factory, early, "alive", claim_idle_ms=0) == 3
    assert set((await _statuses(factory)).values()) == {"delivered"}
    assert (await redis.xpending(STREAM, GROUP))["pending"] == 0

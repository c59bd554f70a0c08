"""Twilio status callbacks that arrive before the dispatcher stored the SID are kept in Redis and
applied once it does: the sandbox posts every callback, signed, to the real route before it
answers the create, so the workers only learn each SID after its callbacks came."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from sqlalchemy import select, update
from sqlmodel import col

from broadcast.channels.base import ChannelName, ProviderStatus
from broadcast.channels.sms.callbacks import parse_status
from broadcast.core.db import SessionFactory, transaction
from broadcast.deliveries.early_status import KEY, TTL_S, EarlyStatuses, receive_status
from broadcast.deliveries.models import Delivery
from broadcast.directory.models import Suppression
from broadcast.sandbox.twilio import TwilioSandbox
from broadcast.settings import Settings
from tests.sms_support import (
    ACCOUNT_SID,
    apply_callbacks,
    families,
    mobile,
    running_sandbox,
    sign,
    through,
    with_sms,
)
from tests.support import add_contacts, api, auth, build_world, run_burst_workers, send_broadcast

STATUS_PATH = "/providers/twilio/status"


@pytest.fixture
async def sandbox() -> AsyncIterator[TwilioSandbox]:
    async with running_sandbox() as server:
        server.callbacks_before_answer = True
        yield server


async def draft_broadcast(client: httpx.AsyncClient, key: str, school: int) -> dict[str, Any]:
    notice = await client.post(
        "/api/v1/notices",
        headers=auth(key),
        json={"organisation_id": school, "title": "ENT indisponible", "message": "Panne"},
    )
    draft = await client.post(
        "/api/v1/broadcasts",
        headers=auth(key),
        json={
            "notice_id": notice.json()["id"],
            "audience": {"organisation_ids": [school]},
            "channels": ["sms"],
        },
    )
    assert draft.status_code == 201, draft.text
    body: dict[str, Any] = draft.json()
    return body


async def sms_rows(factory: SessionFactory) -> list[Delivery]:
    async with transaction(factory) as session:
        rows = await session.execute(
            select(Delivery).where(Delivery.channel == "sms").order_by(Delivery.address)
        )
        return list(rows.scalars())


async def test_callbacks_before_the_sid_is_stored_are_applied_when_it_is(
    settings: Settings,
    factory: SessionFactory,
    sandbox: TwilioSandbox,
    redis: aioredis.Redis,
) -> None:
    settings = with_sms(settings, sandbox)
    world = await build_world(factory)
    await add_contacts(factory, families(world.school_x, 3))
    sandbox.final_status(mobile(2), "undelivered", 30005)
    async with api(settings) as client:
        sandbox.deliver = through(client, settings)
        await send_broadcast(
            client,
            world.keys["head_x"],
            world.school_x,
            {"organisation_ids": [world.school_x]},
            ["sms"],
        )
        await run_burst_workers(settings)

    callbacks_by_recipient = {m.to: m.callbacks for m in sandbox.messages}
    assert callbacks_by_recipient == {
        mobile(0): ["sent", "delivered"],
        mobile(1): ["sent", "delivered"],
        mobile(2): ["sent", "undelivered"],
    }
    assert set(sandbox.callback_statuses) == {204}, "accepted, though the SID was unknown"
    rows = await sms_rows(factory)
    assert [(r.address, r.status, r.error) for r in rows] == [
        (mobile(0), "delivered", None),
        (mobile(1), "delivered", None),
        (mobile(2), "failed", "twilio 30005"),
    ]
    assert {r.provider_message_id for r in rows} == {m.sid for m in sandbox.messages}
    async with transaction(factory) as session:
        suppressed = (await session.execute(select(Suppression.address))).scalars().all()
    assert suppressed == [mobile(2)]
    assert await redis.hlen(KEY) == 0, "what was applied is forgotten"


async def test_a_status_for_an_unknown_sid_is_kept_an_hour_and_changes_nothing(
    settings: Settings, factory: SessionFactory, sandbox: TwilioSandbox, redis: aioredis.Redis
) -> None:
    settings = with_sms(settings, sandbox)
    await build_world(factory)
    sid = "SM" + "0" * 32
    async with api(settings) as client:
        answers = []
        for status in ("delivered", "sent"):  # out of order: the most advanced is kept
            params = {"MessageSid": sid, "AccountSid": ACCOUNT_SID, "MessageStatus": status}
            answer = await client.post(
                STATUS_PATH, data=params, headers=sign(settings, STATUS_PATH, params)
            )
            answers.append(answer.status_code)
        assert await apply_callbacks(settings) == 2

    assert answers == [204, 204]
    kept = await redis.hget(KEY, sid)
    assert kept is not None and b'"status": "delivered"' in kept
    assert 0 < await redis.ttl(KEY) <= TTL_S
    assert await sms_rows(factory) == []


class _RecordedMeanwhile(EarlyStatuses):
    """The dispatcher stores the SID (and reads the hash, finding nothing yet) right after the
    callback missed it and before the callback kept its status: the other order of the race."""

    def __init__(self, redis: aioredis.Redis, factory: SessionFactory, delivery_id: int) -> None:
        super().__init__(redis)
        self._factory, self._delivery_id = factory, delivery_id

    async def keep(self, channel: ChannelName, news: ProviderStatus) -> None:
        sid = news.provider_message_id
        async with transaction(self._factory) as session:
            await session.execute(
                update(Delivery)
                .where(col(Delivery.id) == self._delivery_id)
                .values(status="sent", provider_message_id=sid)
            )
        await super().keep(channel, news)


async def test_a_sid_stored_while_its_callback_is_kept_is_applied_by_the_callback(
    settings: Settings, factory: SessionFactory, redis: aioredis.Redis
) -> None:
    world = await build_world(factory)
    async with api(settings) as client:
        draft = await draft_broadcast(client, world.keys["head_x"], world.school_x)
    async with transaction(factory) as session:
        delivery = Delivery(
            broadcast_id=draft["id"], channel="sms", address=mobile(0), status="sending"
        )
        session.add(delivery)
    sid = "SM" + "1" * 32
    store = _RecordedMeanwhile(redis, factory, delivery.id or 0)
    params = {"MessageSid": sid, "AccountSid": ACCOUNT_SID, "MessageStatus": "delivered"}
    async with transaction(factory) as session:
        news = parse_status(params)
        assert news is not None
        moved = await receive_status(session, store, ChannelName.sms, news)

    assert moved
    assert [(r.status, r.provider_message_id) for r in await sms_rows(factory)] == [
        ("delivered", sid)
    ]
    assert await redis.hlen(KEY) == 0

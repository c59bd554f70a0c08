"""The delivery of one stored message, called as a job would (RULES D3, W2): a message is sent
once however many jobs run it, a disabled endpoint's message fails unsent, ``Retry-After`` sets
the next attempt."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import redis.asyncio as aioredis
from sqlalchemy import select, update
from sqlmodel import col

from broadcast.core.db import SessionFactory, transaction
from broadcast.core.timeutil import utcnow
from broadcast.settings import Settings
from broadcast.webhooks.delivery import DISABLED_ERROR, deliver_message
from broadcast.webhooks.models import WebhookMessage
from broadcast.webhooks.sender import WebhookSender
from tests.support import World, api, auth, build_world
from tests.webhook_support import Subscriber, running_subscriber, subscribe, with_webhooks
from workers.resources import Resources
from workers.tasks import recover

DELAYS = [0.05, 0.05]


@pytest.fixture
async def sender() -> AsyncIterator[WebhookSender]:
    local = WebhookSender(allow_http=True, allow_internal=True, timeout_s=10)
    await local.start()
    yield local
    await local.close()


async def _one_message(
    settings: Settings,
    factory: SessionFactory,
    world: World,
    subscriber: Subscriber,
    path: str,
    *,
    disable: bool = False,
) -> WebhookMessage:
    """An endpoint on ``path`` and one ``notice.created`` for it, its job dropped."""
    officer = world.keys["officer"]
    async with api(with_webhooks(settings)) as client:
        endpoint = await subscribe(
            client, officer, subscriber, path, world.academie, ["notice.created"]
        )
        await client.post(
            "/api/v1/notices",
            headers=auth(world.keys["head_x"]),
            json={"organisation_id": world.school_x, "title": "Panne", "message": "Panne"},
        )
        if disable:
            await client.patch(
                f"/api/v1/webhooks/{endpoint['id']}", headers=auth(officer), json={"enabled": False}
            )
    async with transaction(factory) as session:
        return (await session.execute(select(WebhookMessage))).scalar_one()


async def test_two_runs_of_one_message_send_it_once(
    settings: Settings, factory: SessionFactory, redis: aioredis.Redis, sender: WebhookSender
) -> None:
    world = await build_world(factory)
    async with running_subscriber() as subscriber:
        message = await _one_message(settings, factory, world, subscriber, "/once")
        await redis.flushdb()
        outcomes = await asyncio.gather(
            *(deliver_message(factory, sender, message.id or 0, DELAYS) for _ in range(3))
        )
        again = await deliver_message(factory, sender, message.id or 0, DELAYS)
    assert len(subscriber.received) == 1
    assert outcomes.count(None) >= 1 and again is None
    async with transaction(factory) as session:
        stored = await session.get(WebhookMessage, message.id)
    assert stored is not None and (stored.status, stored.attempts) == ("delivered", 1)


async def test_a_disabled_endpoint_fails_its_message_unsent(
    settings: Settings, factory: SessionFactory, sender: WebhookSender
) -> None:
    world = await build_world(factory)
    async with running_subscriber() as subscriber:
        message = await _one_message(settings, factory, world, subscriber, "/off", disable=True)
        assert await deliver_message(factory, sender, message.id or 0, DELAYS) is None
    assert subscriber.received == []
    async with transaction(factory) as session:
        stored = await session.get(WebhookMessage, message.id)
    assert stored is not None and stored.status == "failed"
    assert stored.last_error == DISABLED_ERROR


async def test_retry_after_sets_the_next_attempt(
    settings: Settings, factory: SessionFactory, sender: WebhookSender
) -> None:
    world = await build_world(factory)
    async with running_subscriber() as subscriber:
        message = await _one_message(settings, factory, world, subscriber, "/busy")
        delay = await deliver_message(factory, sender, message.id or 0, DELAYS)
        early = await deliver_message(factory, sender, message.id or 0, DELAYS)
    assert delay is not None and delay >= 30
    assert early is not None and 0 < early <= delay  # not due yet: nothing sent, same wait
    assert len(subscriber.received) == 1
    async with transaction(factory) as session:
        stored = await session.get(WebhookMessage, message.id)
    assert stored is not None and stored.status == "pending" and stored.last_status_code == 429
    assert stored.next_attempt_at is not None
    assert (stored.next_attempt_at - utcnow()).total_seconds() > 25


async def test_the_recovery_pass_forgets_messages_done_for_a_month(
    settings: Settings, factory: SessionFactory, redis: aioredis.Redis
) -> None:
    world = await build_world(factory)
    async with running_subscriber() as subscriber:
        old = await _one_message(settings, factory, world, subscriber, "/old")
        recent = await _one_message_more(settings, world)
    await redis.flushdb()
    async with transaction(factory) as session:
        await session.execute(
            update(WebhookMessage).values(status="delivered", next_attempt_at=None)
        )
        await session.execute(
            update(WebhookMessage)
            .where(col(WebhookMessage.id) == old.id)
            .values(created_at=utcnow() - timedelta(days=31))
        )
    assert settings.redis_url
    resources = await Resources.open(settings, settings.redis_url)
    try:
        await recover({"resources": resources})
    finally:
        await resources.close()
    async with transaction(factory) as session:
        kept = (await session.execute(select(col(WebhookMessage.id)))).scalars().all()
    assert list(kept) == [recent]


async def _one_message_more(settings: Settings, world: World) -> int:
    """Another ``notice.created`` for the endpoint already there: its message's id."""
    async with api(with_webhooks(settings)) as client:
        await client.post(
            "/api/v1/notices",
            headers=auth(world.keys["head_x"]),
            json={"organisation_id": world.school_x, "title": "Panne 2", "message": "Panne"},
        )
        endpoints = await client.get("/api/v1/webhooks", headers=auth(world.keys["officer"]))
        [endpoint] = endpoints.json()["items"]
        messages = await client.get(
            f"/api/v1/webhooks/{endpoint['id']}/messages", headers=auth(world.keys["officer"])
        )
    newest: int = messages.json()[0]["id"]
    return newest


async def test_gone_fails_every_pending_message_of_the_endpoint(
    settings: Settings, factory: SessionFactory, sender: WebhookSender
) -> None:
    world = await build_world(factory)
    async with running_subscriber() as subscriber:
        first = await _one_message(settings, factory, world, subscriber, "/gone")
        second = await _one_message_more(settings, world)
        assert await deliver_message(factory, sender, first.id or 0, DELAYS) is None
        assert await deliver_message(factory, sender, second, DELAYS) is None
    assert len(subscriber.received) == 1
    async with transaction(factory) as session:
        rows = await session.execute(select(WebhookMessage).order_by(col(WebhookMessage.id)))
        messages = rows.scalars().all()
    assert [(m.status, m.last_status_code, m.attempts) for m in messages] == [
        ("failed", 410, 1),
        ("failed", None, 0),
    ]
    assert messages[1].last_error == DISABLED_ERROR

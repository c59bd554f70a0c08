"""Events produced by real API calls and delivered by real workers to a subscriber that verifies
every signature with ``standardwebhooks`` (RULES W1, W2): all five events, retries after 500,
410 disabling the endpoint, retries exhausted, and a message whose job was lost."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import redis.asyncio as aioredis
from sqlalchemy import select, update
from sqlmodel import col

from broadcast.broadcasts.models import Broadcast
from broadcast.core.db import SessionFactory, transaction
from broadcast.core.timeutil import utcnow
from broadcast.jobs import WEBHOOK_QUEUE
from broadcast.sandbox.smtp import SmtpSink
from broadcast.settings import Settings
from broadcast.webhooks.models import WebhookMessage
from tests.inbound_support import alertmanager_payload, create_source, post_alertmanager
from tests.support import (
    add_contacts,
    api,
    auth,
    build_world,
    guardians,
    run_burst_workers,
    send_broadcast,
)
from tests.webhook_support import ALL_EVENTS, running_subscriber, subscribe, with_webhooks
from workers.resources import Resources
from workers.tasks import recover


async def _create_notice(client: httpx.AsyncClient, key: str, school: int) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/notices",
        headers=auth(key),
        json={"organisation_id": school, "title": "Cantine fermée", "message": "Repas froid."},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _messages(client: httpx.AsyncClient, key: str, endpoint_id: int) -> list[Any]:
    response = await client.get(f"/api/v1/webhooks/{endpoint_id}/messages", headers=auth(key))
    assert response.status_code == 200, response.text
    messages: list[Any] = response.json()
    return messages


async def test_every_event_reaches_a_subscriber_of_the_academie(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    settings = with_webhooks(settings)
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 3))
    head, officer = world.keys["head_x"], world.keys["officer"]
    async with running_subscriber() as subscriber, api(settings) as client:
        endpoint = await subscribe(client, officer, subscriber, "/academie", world.academie)
        await subscribe(client, officer, subscriber, "/other-school", world.school_z)
        draft = await send_broadcast(
            client, head, world.school_x, {"organisation_ids": [world.school_x]}
        )
        await run_burst_workers(settings)
        notice_id = draft["notice_id"]
        updated = await client.post(
            f"/api/v1/notices/{notice_id}/updates",
            headers=auth(head),
            json={"status": "identified", "message": "Panne du serveur identifiée."},
        )
        resolved = await client.post(
            f"/api/v1/notices/{notice_id}/status", headers=auth(head), json={"status": "resolved"}
        )
        assert updated.status_code == 201 and resolved.status_code == 200
        await run_burst_workers(settings)
        messages = await _messages(client, officer, endpoint["id"])

    assert subscriber.rejected == []
    held = "broadcast.held"  # no provider refused anything here (see tests/faults)
    expected = sorted(event for event in ALL_EVENTS if event != held)
    assert sorted(e["type"] for e in subscriber.events("/academie")) == expected
    assert subscriber.events("/other-school") == []
    [created] = subscriber.of_type("/academie", "notice.created")
    assert (
        created["data"]["notice"] | {"id": notice_id, "title": "ENT indisponible"}
        == (created["data"]["notice"])
    )
    assert created["data"]["notice"]["status"] == "investigating"
    assert created["data"]["update"]["message"].startswith("L'ENT est indisponible")
    assert created["data"]["organisation"]["id"] == world.school_x
    [changed] = subscriber.of_type("/academie", "notice.updated")
    assert changed["data"]["update"]["status"] == "identified"
    assert changed["data"]["update"]["message"] == "Panne du serveur identifiée."
    [ended] = subscriber.of_type("/academie", "notice.resolved")
    assert ended["data"]["notice"]["status"] == "resolved"
    [queued] = subscriber.of_type("/academie", "broadcast.queued")
    assert queued["data"]["broadcast"]["id"] == draft["id"]
    assert queued["data"]["broadcast"]["status"] == "queued"
    assert queued["data"]["notice"] == {
        "id": notice_id,
        "title": "ENT indisponible",
        "status": "investigating",
    }
    [completed] = subscriber.of_type("/academie", "broadcast.completed")
    assert completed["data"]["broadcast"]["status"] == "completed"
    assert completed["data"]["broadcast"]["completed_at"] is not None
    assert completed["data"]["broadcast"]["is_exercise"] is False  # subscribers tell them apart
    assert completed["data"]["counts"] == {"email": {"sent": 3}}
    assert len(sink.messages) == 3
    assert [(m["status"], m["attempts"], m["last_status_code"]) for m in messages] == [
        ("delivered", 1, 204)
    ] * 5
    assert len({r.webhook_id for r in subscriber.received}) == 5


async def test_a_subscriber_answering_500_gets_retries_until_it_answers(
    settings: Settings, factory: SessionFactory
) -> None:
    settings = with_webhooks(settings)
    world = await build_world(factory)
    officer = world.keys["officer"]
    async with running_subscriber() as subscriber, api(settings) as client:
        subscriber.failures_left["/flaky"] = 2
        endpoint = await subscribe(
            client, officer, subscriber, "/flaky", world.academie, ["notice.created"]
        )
        await _create_notice(client, world.keys["head_x"], world.school_x)
        await run_burst_workers(settings)
        [message] = await _messages(client, officer, endpoint["id"])
        read = await client.get(f"/api/v1/webhooks/{endpoint['id']}", headers=auth(officer))

    assert message["status"] == "delivered" and message["attempts"] == 3
    assert message["last_status_code"] == 204 and message["delivered_at"] is not None
    assert [r.webhook_id for r in subscriber.received] == [message["message_id"]] * 3
    assert read.json()["enabled"] and read.json()["last_success_at"] is not None


async def test_a_subscriber_answering_410_is_disabled_and_sent_nothing_more(
    settings: Settings, factory: SessionFactory
) -> None:
    settings = with_webhooks(settings)
    world = await build_world(factory)
    officer, head = world.keys["officer"], world.keys["head_x"]
    async with running_subscriber() as subscriber, api(settings) as client:
        endpoint = await subscribe(client, officer, subscriber, "/gone", world.academie)
        notice = await _create_notice(client, head, world.school_x)
        await run_burst_workers(settings)
        await client.post(
            f"/api/v1/notices/{notice['id']}/updates",
            headers=auth(head),
            json={"status": "resolved", "message": "Réparé."},
        )
        await run_burst_workers(settings)
        read = await client.get(f"/api/v1/webhooks/{endpoint['id']}", headers=auth(officer))
        messages = await _messages(client, officer, endpoint["id"])
        enabled_again = await client.patch(
            f"/api/v1/webhooks/{endpoint['id']}", headers=auth(officer), json={"enabled": True}
        )

    assert len(subscriber.received) == 1
    assert read.json()["enabled"] is False and read.json()["disabled_at"] is not None
    assert "410" in read.json()["disabled_reason"]
    assert [(m["status"], m["last_status_code"]) for m in messages] == [("failed", 410)]
    assert enabled_again.json()["enabled"] is True
    assert enabled_again.json()["disabled_at"] is None
    assert enabled_again.json()["disabled_reason"] is None


async def test_retries_end_when_the_schedule_is_exhausted(
    settings: Settings, factory: SessionFactory
) -> None:
    settings = with_webhooks(settings)  # three retries
    world = await build_world(factory)
    officer = world.keys["officer"]
    async with running_subscriber() as subscriber, api(settings) as client:
        subscriber.failures_left["/down"] = 100
        endpoint = await subscribe(
            client, officer, subscriber, "/down", world.school_x, ["notice.created"]
        )
        await _create_notice(client, world.keys["head_x"], world.school_x)
        await run_burst_workers(settings)
        [message] = await _messages(client, officer, endpoint["id"])

    assert len(subscriber.received) == 4
    assert (message["status"], message["attempts"], message["last_status_code"]) == (
        "failed",
        4,
        500,
    )
    assert message["last_error"].endswith("Nouveaux essais épuisés.")


async def test_a_message_whose_job_was_lost_is_sent_by_the_recovery_pass_once(
    settings: Settings, factory: SessionFactory, redis: aioredis.Redis
) -> None:
    settings = with_webhooks(settings)
    world = await build_world(factory)
    async with running_subscriber() as subscriber:
        async with api(settings) as client:
            await subscribe(
                client,
                world.keys["officer"],
                subscriber,
                "/late",
                world.academie,
                ["notice.created"],
            )
            await _create_notice(client, world.keys["head_x"], world.school_x)
        await redis.flushdb()  # the delivery job is gone
        async with transaction(factory) as session:
            await session.execute(
                update(WebhookMessage).values(next_attempt_at=utcnow() - timedelta(minutes=5))
            )
        await _sweep_twice(settings)
        assert await redis.zcard(WEBHOOK_QUEUE) == 1  # one job per message, however often swept
        await run_burst_workers(settings)
    async with transaction(factory) as session:
        statuses = (await session.execute(select(col(WebhookMessage.status)))).scalars().all()
    assert list(statuses) == ["delivered"]
    assert len(subscriber.received) == 1


async def _sweep_twice(settings: Settings) -> None:
    assert settings.redis_url
    resources = await Resources.open(settings, settings.redis_url)
    try:
        for _ in range(2):
            await recover({"resources": resources})
    finally:
        await resources.close()


async def test_a_test_ping_is_signed_and_delivered(
    settings: Settings, factory: SessionFactory
) -> None:
    settings = with_webhooks(settings)
    world = await build_world(factory)
    officer = auth(world.keys["officer"])
    async with running_subscriber() as subscriber, api(settings) as client:
        endpoint = await subscribe(
            client, world.keys["officer"], subscriber, "/ping", world.academie
        )
        path = f"/api/v1/webhooks/{endpoint['id']}"
        sent = await client.post(f"{path}/test", headers=officer)
        await run_burst_workers(settings)
        [message] = await _messages(client, world.keys["officer"], endpoint["id"])
        await client.patch(path, headers=officer, json={"enabled": False})
        refused = await client.post(f"{path}/test", headers=officer)
    assert sent.status_code == 202 and sent.json()["status"] == "pending"
    [ping] = subscriber.events("/ping")
    assert ping["type"] == "webhook.ping" and ping["data"]["endpoint_id"] == endpoint["id"]
    assert (message["status"], message["event_type"]) == ("delivered", "webhook.ping")
    assert refused.status_code == 409
    assert refused.json()["error"]["message"].startswith("Ce webhook est désactivé")


async def test_a_scheduled_broadcast_is_announced_queued_when_the_scheduler_starts_it(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    settings = with_webhooks(settings)
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 2))
    head = world.keys["head_x"]
    async with running_subscriber() as subscriber, api(settings) as client:
        await subscribe(
            client,
            world.keys["officer"],
            subscriber,
            "/agenda",
            world.academie,
            ["broadcast.queued", "broadcast.completed"],
        )
        notice = await _create_notice(client, head, world.school_x)
        in_an_hour = (utcnow() + timedelta(hours=1)).isoformat()
        draft = await client.post(
            "/api/v1/broadcasts",
            headers=auth(head),
            json={
                "notice_id": notice["id"],
                "audience": {"organisation_ids": [world.school_x]},
                "channels": ["email"],
                "scheduled_at": in_an_hour,
            },
        )
        confirmed = await client.post(
            f"/api/v1/broadcasts/{draft.json()['id']}/confirm", headers=auth(head)
        )
        assert confirmed.json()["status"] == "scheduled", confirmed.text
        await run_burst_workers(settings)
        assert subscriber.received == []  # not queued yet
        async with transaction(factory) as session:
            await session.execute(
                update(Broadcast).values(scheduled_at=utcnow() - timedelta(seconds=1))
            )
        await run_burst_workers(settings)  # the scheduler's pass runs at start-up
    events = {e["type"]: e for e in subscriber.events("/agenda")}
    assert sorted(events) == ["broadcast.completed", "broadcast.queued"]
    assert events["broadcast.queued"]["timestamp"] <= events["broadcast.completed"]["timestamp"]
    assert len(sink.messages) == 2


async def test_a_notice_opened_by_a_monitoring_alert_is_announced(
    settings: Settings, factory: SessionFactory
) -> None:
    settings = with_webhooks(settings)
    world = await build_world(factory)
    officer = world.keys["officer"]
    async with running_subscriber() as subscriber, api(settings) as client:
        await subscribe(client, officer, subscriber, "/banner", world.academie, ["notice.created"])
        source = await create_source(client, officer, world.school_x)
        opened = await post_alertmanager(client, source, alertmanager_payload("firing"))
        assert opened.status_code < 300, opened.text
        await run_burst_workers(settings)
    [created] = subscriber.events("/banner")
    assert created["type"] == "notice.created"
    assert created["data"]["notice"]["organisation_id"] == world.school_x
    assert created["data"]["notice"]["status"] == "investigating"
    assert created["data"]["update"]["message"]

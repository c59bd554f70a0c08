"""The push channel end to end: the real API, burst workers, both databases, and the push sandbox
decrypting what it receives (RULES P1-P3)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select

from broadcast.accounts.models import AuditEvent
from broadcast.channels.base import MessageContent, Recipient
from broadcast.channels.push.sender import PushChannel, render_push_payload
from broadcast.channels.push.vapid import generate_vapid_keys
from broadcast.core.db import SessionFactory, transaction
from broadcast.deliveries.models import Delivery
from broadcast.directory.schemas import ContactIn
from broadcast.rendering import Renderer
from broadcast.sandbox.push import PushSandbox
from broadcast.settings import Settings
from tests.push_support import (
    browser_subscription,
    follow,
    push_rows,
    running_push,
    subscribe_contact,
    with_push,
)
from tests.support import (
    add_contacts,
    api,
    auth,
    build_world,
    guardians,
    run_burst_workers,
    send_broadcast,
)

CONTENT = MessageContent(
    notice_id=12,
    notice_title="Coupure de l'ENT",
    notice_status="investigating",
    update_message="L'ENT est indisponible ce matin.",
    organisation_name="Collège Pasteur",
    urgent=False,
)


@pytest.fixture
async def push() -> AsyncIterator[PushSandbox]:
    async with running_push() as sandbox:
        yield sandbox


async def subscribed_guardians(
    client: httpx.AsyncClient,
    factory: SessionFactory,
    push: PushSandbox,
    key: str,
    rows: list[ContactIn],
) -> list[dict[str, Any]]:
    """Contacts, each with one browser subscription registered through the API."""
    subscriptions = []
    for contact_id in await add_contacts(factory, rows):
        subscription = browser_subscription(push)
        await subscribe_contact(client, key, contact_id, subscription)
        subscriptions.append(subscription)
    return subscriptions


async def push_deliveries(factory: SessionFactory, broadcast_id: int) -> list[Delivery]:
    async with transaction(factory) as session:
        rows = await session.execute(
            select(Delivery)
            .where(Delivery.broadcast_id == broadcast_id, Delivery.channel == "push")
            .order_by(Delivery.id)
        )
        return list(rows.scalars())


def test_payload_per_locale_and_exercise_title() -> None:
    renderer = Renderer()
    french = render_push_payload(renderer, CONTENT, "fr")
    english = render_push_payload(renderer, CONTENT, "en")
    drill = render_push_payload(
        renderer, MessageContent(**{**_fields(CONTENT), "exercise": True}), "fr"
    )
    assert french["title"] == "Coupure de l'ENT"
    assert french["body"] == (
        "Incident en cours d’analyse – L'ENT est indisponible ce matin.\nCollège Pasteur"
    )
    assert english["body"].startswith("Incident under investigation – ")
    assert (french["tag"], french["notice_id"]) == ("notice-12", 12)
    assert drill["title"] == "EXERCICE - Coupure de l'ENT"


def _fields(content: MessageContent) -> dict[str, Any]:
    return {name: getattr(content, name) for name in content.__dataclass_fields__}


async def test_payload_title_topic_ttl_and_urgency_reach_the_browser(
    settings: Settings, factory: SessionFactory, push: PushSandbox
) -> None:
    settings = with_push(settings).model_copy(update={"push_ttl_s": 7200})
    world = await build_world(factory)
    key = world.keys["head_x"]
    async with api(settings) as client:
        [french] = await subscribed_guardians(
            client, factory, push, key, guardians(world.school_x, 1)
        )
        [english] = await subscribed_guardians(
            client,
            factory,
            push,
            key,
            [guardians(world.school_x, 1, start=5)[0].model_copy(update={"locale": "en"})],
        )
        follower = browser_subscription(push)
        await follow(client, follower, organisation_id=world.school_x)
        urgent = await send_broadcast(
            client,
            key,
            world.school_x,
            {"organisation_ids": [world.school_x]},
            ["push"],
            "urgent",
            public=True,
        )
        await run_burst_workers(settings)
        resolved = await client.post(
            f"/api/v1/notices/{urgent['notice_id']}/updates",
            headers=auth(key),
            json={"status": "resolved", "message": "L'ENT fonctionne de nouveau."},
        )
        assert resolved.status_code == 201, resolved.text
        draft = await client.post(
            "/api/v1/broadcasts",
            headers=auth(key),
            json={
                "notice_id": urgent["notice_id"],
                "audience": {"organisation_ids": [world.school_x]},
                "channels": ["push"],
            },
        )
        await client.post(f"/api/v1/broadcasts/{draft.json()['id']}/confirm", headers=auth(key))
        await run_burst_workers(settings)

    for subscription in (french, english, follower):
        first, second = push.messages_for(subscription)
        assert (first.urgency, first.topic, first.ttl) == (
            "high",
            f"notice-{urgent['notice_id']}",
            7200,
        )
        assert (second.urgency, second.topic) == ("normal", first.topic)
        assert first.data["title"] == "ENT indisponible"
        # The update reads as the update, not as the incident its title names.
        assert second.data["title"] in (
            "Résolu : L'ENT fonctionne de nouveau.",
            "Resolved: L'ENT fonctionne de nouveau.",
        )
        assert second.data["body"].startswith("L'ENT fonctionne de nouveau.\nCollège Org")
    assert push.messages_for(english)[0].data["body"].startswith("Incident under investigation")
    assert {m.vapid_sub for m in push.messages} == {"mailto:dsi@ac-test.fr"}
    deliveries = await push_deliveries(factory, urgent["id"])
    assert [d.status for d in deliveries] == ["sent"] * 3
    assert all(d.provider_message_id and "/message/" in d.provider_message_id for d in deliveries)


async def test_410_deletes_the_subscription_which_is_never_used_again(
    settings: Settings, factory: SessionFactory, push: PushSandbox
) -> None:
    settings = with_push(settings)
    world = await build_world(factory)
    key = world.keys["head_x"]
    audience = {"organisation_ids": [world.school_x]}
    async with api(settings) as client:
        gone, kept = await subscribed_guardians(
            client, factory, push, key, guardians(world.school_x, 2)
        )
        dead_follower = browser_subscription(push)
        await follow(client, dead_follower, organisation_id=world.school_x)
        push.expire(gone)
        push.expire(dead_follower)
        first = await send_broadcast(client, key, world.school_x, audience, ["push"], public=True)
        await run_burst_workers(settings)
        done = await client.get(f"/api/v1/broadcasts/{first['id']}", headers=auth(key))
        second = await send_broadcast(client, key, world.school_x, audience, ["push"], public=True)
        await run_burst_workers(settings)

    assert done.json()["status"] == "completed"
    assert done.json()["counters"]["push"]["sent"] == 1
    assert done.json()["counters"]["push"]["failed"] == 2
    failed = [d for d in await push_deliveries(factory, first["id"]) if d.status == "failed"]
    assert {d.error for d in failed} == {"abonnement supprimé (HTTP 410)"}
    subscriptions, points, followers = await push_rows(factory)
    assert [s.endpoint for s in subscriptions] == [kept["endpoint"]]
    assert subscriptions[0].last_success_at is not None
    assert [p.address for p in points] == [str(subscriptions[0].id)]
    assert followers == []
    assert [len(push.messages_for(s)) for s in (gone, kept, dead_follower)] == [0, 2, 0]
    assert len(push.refusals) == 2  # the second broadcast did not even try
    assert [d.status for d in await push_deliveries(factory, second["id"])] == ["sent"]


async def test_401_403_alert_the_operator_and_keep_the_subscription(
    settings: Settings, factory: SessionFactory, push: PushSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    settings = with_push(settings)
    world = await build_world(factory)
    key = world.keys["head_x"]
    other_server_key = generate_vapid_keys()[1]
    [contact] = await add_contacts(factory, guardians(world.school_x, 1))
    bound_elsewhere = browser_subscription(push, server_key=other_server_key)
    async with api(settings) as client:
        await subscribe_contact(client, key, contact, bound_elsewhere)
        draft = await send_broadcast(
            client, key, world.school_x, {"organisation_ids": [world.school_x]}, ["push"]
        )
        await run_burst_workers(settings)
        again = await send_broadcast(
            client, key, world.school_x, {"organisation_ids": [world.school_x]}, ["push"]
        )
        await run_burst_workers(settings)

    [delivery] = await push_deliveries(factory, draft["id"])
    assert delivery.status == "failed" and delivery.error and delivery.error.startswith("HTTP 403")
    subscriptions, points, _ = await push_rows(factory)
    assert [s.endpoint for s in subscriptions] == [bound_elsewhere["endpoint"]]
    assert subscriptions[0].last_success_at is None
    assert len(points) == 1
    assert [d.status for d in await push_deliveries(factory, again["id"])] == ["failed"]
    async with transaction(factory) as session:
        alerts = (
            (
                await session.execute(
                    select(AuditEvent).where(AuditEvent.action == "push.credentials_refused")
                )
            )
            .scalars()
            .all()
        )
    assert alerts and alerts[0].details["push_service"] == f"{push.origin}/***"
    errors = [r for r in caplog.records if r.levelname == "ERROR" and "VAPID" in r.getMessage()]
    assert errors
    assert all("/push/" not in r.getMessage() for r in errors)


async def test_subscriptions_of_a_group_are_read_in_one_query(
    settings: Settings, factory: SessionFactory, push: PushSandbox
) -> None:
    settings = with_push(settings)
    world = await build_world(factory)
    async with api(settings) as client:
        subscriptions = await subscribed_guardians(
            client, factory, push, world.keys["head_x"], guardians(world.school_x, 5)
        )
    ids = [int(s.id or 0) for s in (await push_rows(factory))[0]]
    channel = PushChannel(settings)
    statements: list[str] = []
    engine = factory.kw["bind"].sync_engine

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "push_subscription" in statement:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    await channel.start()
    try:
        prepared = channel.prepare(CONTENT, "fr")
        async with transaction(factory) as session:  # as the dispatcher does, once per group
            targets = await channel.load_targets(session, [str(i) for i in ids])
        results = await asyncio.gather(
            *(
                channel.send(prepared, Recipient(n, str(i), "fr", targets.get(str(i))))
                for n, i in enumerate(ids)
            )
        )
    finally:
        await channel.close()
        event.remove(engine, "before_cursor_execute", count)
    assert [r.outcome for r in results] == ["sent"] * 5
    assert len(statements) == 1
    assert [len(push.messages_for(s)) for s in subscriptions] == [1] * 5


async def test_a_worker_without_a_vapid_key_fails_push_and_still_sends_email(
    settings: Settings, factory: SessionFactory, push: PushSandbox, sink: Any
) -> None:
    world = await build_world(factory)
    key = world.keys["head_x"]
    async with api(settings) as client:
        await subscribed_guardians(client, factory, push, key, guardians(world.school_x, 2))
        draft = await send_broadcast(
            client, key, world.school_x, {"organisation_ids": [world.school_x]}, ["email", "push"]
        )
        await run_burst_workers(settings)
        done = await client.get(f"/api/v1/broadcasts/{draft['id']}", headers=auth(key))
    assert done.json()["counters"]["email"]["sent"] == 2
    assert done.json()["counters"]["push"]["failed"] == 2
    assert {d.error for d in await push_deliveries(factory, draft["id"])} == {
        "aucun compte push configuré"
    }
    assert push.messages == [] and len(sink.messages) == 2
    assert len((await push_rows(factory))[0]) == 2  # nothing is deleted for that


async def test_an_exercise_broadcast_says_so_in_the_push_title(
    settings: Settings, factory: SessionFactory, push: PushSandbox
) -> None:
    settings = with_push(settings)
    world = await build_world(factory)
    key = world.keys["head_x"]
    async with api(settings) as client:
        [browser] = await subscribed_guardians(
            client, factory, push, key, guardians(world.school_x, 1)
        )
        notice = await client.post(
            "/api/v1/notices",
            headers=auth(key),
            json={"organisation_id": world.school_x, "title": "Alerte PPMS", "message": "Test"},
        )
        draft = await client.post(
            "/api/v1/broadcasts",
            headers=auth(key),
            json={
                "notice_id": notice.json()["id"],
                "audience": {"organisation_ids": [world.school_x]},
                "channels": ["push"],
                "is_exercise": True,
            },
        )
        confirmed = await client.post(
            f"/api/v1/broadcasts/{draft.json()['id']}/confirm", headers=auth(key)
        )
        assert confirmed.status_code == 202, confirmed.text
        await run_burst_workers(settings)
    [message] = push.messages_for(browser)
    assert message.data["title"] == "EXERCICE - Alerte PPMS"


async def test_followers_receive_public_notices_only(
    settings: Settings, factory: SessionFactory, push: PushSandbox
) -> None:
    settings = with_push(settings)
    world = await build_world(factory)
    key = world.keys["head_x"]
    audience = {"organisation_ids": [world.school_x]}
    async with api(settings) as client:
        [guardian] = await subscribed_guardians(
            client, factory, push, key, guardians(world.school_x, 1)
        )
        follower = browser_subscription(push)
        await follow(client, follower, organisation_id=world.school_x)
        internal = await send_broadcast(client, key, world.school_x, audience, ["push"])
        await run_burst_workers(settings)
        public = await send_broadcast(client, key, world.school_x, audience, ["push"], public=True)
        await run_burst_workers(settings)
        naming_followers = await client.post(
            "/api/v1/broadcasts",
            headers=auth(key),
            json={
                "notice_id": internal["notice_id"],
                "audience": {**audience, "roles": ["follower"]},
                "channels": ["push"],
            },
        )

    assert internal["preview"]["channels"][0]["recipients"] == 1
    assert public["preview"]["channels"][0]["recipients"] == 2
    assert len(push.messages_for(guardian)) == 2
    assert len(push.messages_for(follower)) == 1
    assert naming_followers.status_code == 422
    assert "ne reçoivent que les avis publics" in naming_followers.text

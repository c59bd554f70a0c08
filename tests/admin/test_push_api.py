"""Web push through the API: the public key, subscriptions of contacts (scope A1), anonymous
followers, unsubscribe; both databases, the push sandbox making the browser subscriptions."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from broadcast.accounts.models import AuditEvent
from broadcast.core.db import SessionFactory, transaction
from broadcast.sandbox.push import PushSandbox
from broadcast.settings import Settings
from tests.push_support import (
    APPLICATION_SERVER_KEY,
    browser_subscription,
    follow,
    push_rows,
    running_push,
    subscribe_contact,
    with_push,
)
from tests.support import add_contacts, api, auth, build_world, guardians


@pytest.fixture
async def push() -> AsyncIterator[PushSandbox]:
    async with running_push() as sandbox:
        yield sandbox


async def test_public_key_is_the_application_server_key(settings: Settings) -> None:
    async with api(with_push(settings)) as client:
        response = await client.get("/api/v1/push/public-key")
    assert response.status_code == 200
    assert response.json() == {"public_key": APPLICATION_SERVER_KEY}


async def test_without_a_vapid_key_push_is_not_configured(
    settings: Settings, factory: SessionFactory, push: PushSandbox
) -> None:
    world = await build_world(factory)
    async with api(settings) as client:
        key = await client.get("/api/v1/push/public-key")
        followed = await follow(client, browser_subscription(push), organisation_id=world.school_x)
    assert key.status_code == followed.status_code == 503
    assert key.json()["error"]["message"] == (
        "Les notifications web ne sont pas configurées sur ce service."
    )


async def test_anonymous_follow_by_uai_then_again_updates_then_unsubscribe(
    settings: Settings, factory: SessionFactory, push: PushSandbox
) -> None:
    world = await build_world(factory)
    subscription = browser_subscription(push)
    renewed = {**browser_subscription(push), "endpoint": subscription["endpoint"]}
    async with api(with_push(settings)) as client:
        first = await follow(client, subscription, uai="0670100v", locale="en")
        again = await follow(client, renewed, organisation_id=world.school_x)
        subscriptions, points, followers = await push_rows(factory)
        gone = await client.request(
            "DELETE", "/api/v1/push/subscriptions", json={"endpoint": subscription["endpoint"]}
        )
        unknown = await client.request(
            "DELETE", "/api/v1/push/subscriptions", json={"endpoint": subscription["endpoint"]}
        )

    assert first.status_code == again.status_code == 201, first.text
    assert first.json()["organisation_id"] == world.school_x
    assert again.json()["id"] == first.json()["id"]
    [row] = subscriptions
    assert row.p256dh == renewed["keys"]["p256dh"] and row.auth == renewed["keys"]["auth"]
    assert [(p.contact_id, p.address) for p in points] == [(followers[0].id, str(row.id))]
    assert [(f.organisation_id, f.locale, f.first_name) for f in followers] == [
        (world.school_x, "fr", "")
    ]
    assert gone.status_code == unknown.status_code == 204
    assert await push_rows(factory) == ([], [], [])


async def test_follow_needs_an_existing_organisation(
    settings: Settings, factory: SessionFactory, push: PushSandbox
) -> None:
    await build_world(factory)
    async with api(with_push(settings)) as client:
        unknown_id = await follow(client, browser_subscription(push), organisation_id=999_999)
        unknown_uai = await follow(client, browser_subscription(push), uai="0750654D")
        neither = await follow(client, browser_subscription(push))
    assert unknown_id.status_code == unknown_uai.status_code == 404
    assert unknown_id.json()["error"]["message"] == "Établissement ou organisation introuvable."
    assert neither.status_code == 422
    assert neither.json()["error"]["message"] == "Indiquez soit organisation_id, soit uai."
    assert await push_rows(factory) == ([], [], [])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"keys": {"p256dh": "A" * 87, "auth": "B" * 22}}, "p256dh"),
        ({"keys": {"p256dh": "x", "auth": "y"}}, "p256dh"),
        ({"endpoint": "ftp://push.example/abc"}, None),
        ({"endpoint": "https://push.example/" + "a" * 1000}, "endpoint"),
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_malformed_subscriptions_are_refused_in_french(
    settings: Settings,
    factory: SessionFactory,
    push: PushSandbox,
    change: dict[str, object],
    field: str | None,
) -> None:
    world = await build_world(factory)
    subscription = {**browser_subscription(push), **change}
    async with api(with_push(settings)) as client:
        response = await follow(client, subscription, organisation_id=world.school_x)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    if field is None:
        assert error["message"] == "Adresse d'abonnement invalide : une URL https est attendue."
    else:
        assert error["message"].startswith("Certaines données sont invalides : « ")
        assert field in error["message"]
        assert field in str(error["details"])


async def test_outside_dev_only_https_endpoints_of_known_push_services(
    settings: Settings, factory: SessionFactory, push: PushSandbox
) -> None:
    world = await build_world(factory)
    production = with_push(settings).model_copy(update={"env": "prod"})
    keys = browser_subscription(push)["keys"]
    async with api(production) as client:
        answers = [
            await follow(
                client, {"endpoint": endpoint, "keys": keys}, organisation_id=world.school_x
            )
            for endpoint in (
                "http://fcm.googleapis.com/fcm/send/abc",
                "https://169.254.169.254/latest/meta-data",
                "https://fcm.googleapis.com.evil.fr/x",
                "https://fcm.googleapis.com/fcm/send/abc",
                "https://wns2-par02p.notify.windows.com/w/?token=abc",
            )
        ]
    assert [a.status_code for a in answers] == [422, 422, 422, 201, 201]
    assert answers[1].json()["error"]["message"] == (
        "Adresse d'abonnement refusée : ce service de notification n'est pas reconnu."
    )


async def test_a_contact_subscription_needs_the_scope_and_contacts_write(
    settings: Settings, factory: SessionFactory, push: PushSandbox
) -> None:
    world = await build_world(factory)
    [in_x] = await add_contacts(factory, guardians(world.school_x, 1))
    [in_y] = await add_contacts(factory, guardians(world.school_y, 1, start=10))
    subscription = browser_subscription(push)
    path = f"/api/v1/contacts/{in_y}/push-subscriptions"
    async with api(with_push(settings)) as client:
        outside = await client.post(path, headers=auth(world.keys["head_x"]), json=subscription)
        viewer = await client.post(
            f"/api/v1/contacts/{in_x}/push-subscriptions",
            headers=auth(world.keys["viewer_x"]),
            json=subscription,
        )
        anonymous = await client.post(path, json=subscription)
        created = await subscribe_contact(client, world.keys["head_y"], in_y, subscription)
    assert outside.status_code == 404
    assert outside.json()["error"]["message"] == "Contact introuvable."  # as an absent contact (A1)
    assert viewer.status_code == 403 and anonymous.status_code == 401
    assert (created["contact_id"], created["organisation_id"]) == (in_y, world.school_y)
    subscriptions, points, followers = await push_rows(factory)
    assert [(s.contact_id, s.endpoint) for s in subscriptions] == [(in_y, subscription["endpoint"])]
    assert [(p.contact_id, p.address) for p in points] == [(in_y, str(created["id"]))]
    assert followers == []
    async with transaction(factory) as session:
        actions = (await session.execute(select(AuditEvent.action))).scalars().all()
    assert "push.subscribe" in actions


async def test_contact_registration_is_idempotent_and_takes_over_a_follower_endpoint(
    settings: Settings, factory: SessionFactory, push: PushSandbox
) -> None:
    world = await build_world(factory)
    [contact] = await add_contacts(factory, guardians(world.school_x, 1))
    subscription = browser_subscription(push)
    path = f"/api/v1/contacts/{contact}/push-subscriptions"
    headers = {**auth(world.keys["head_x"]), "Idempotency-Key": "abonnement-1"}
    async with api(with_push(settings)) as client:
        followed = await follow(client, subscription, organisation_id=world.school_x)
        first = await client.post(path, headers=headers, json=subscription)
        replay = await client.post(path, headers=headers, json=subscription)
    assert followed.status_code == first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert first.json()["id"] == followed.json()["id"]
    subscriptions, points, followers = await push_rows(factory)
    assert [s.contact_id for s in subscriptions] == [contact]
    assert [p.contact_id for p in points] == [contact]
    assert followers == []  # the follower left without a subscription is gone


def test_an_unreadable_vapid_key_is_refused_at_start_up() -> None:
    with pytest.raises(ValidationError, match="unreadable VAPID private key"):
        Settings(env="dev", vapid_private_key="pas-une-clé")  # type: ignore[arg-type]


async def test_public_calls_are_limited_per_client_address(
    settings: Settings, factory: SessionFactory, push: PushSandbox
) -> None:
    world = await build_world(factory)
    async with api(with_push(settings)) as client:
        answers = [
            await follow(client, browser_subscription(push), organisation_id=world.school_x)
            for _ in range(11)
        ]
        unsubscribe = await client.request(
            "DELETE", "/api/v1/push/subscriptions", json={"endpoint": "https://x.fr/push/1"}
        )
        key = await client.get("/api/v1/push/public-key")
    assert [a.status_code for a in answers] == [201] * 10 + [429]
    assert answers[-1].json()["error"]["message"] == (
        "Trop de demandes depuis cette adresse : réessayez dans une minute."
    )
    assert unsubscribe.status_code == 429 and key.status_code == 200
    assert len((await push_rows(factory))[0]) == 10

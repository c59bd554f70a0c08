"""Managing webhook endpoints through the API: the secret shown once, scope (RULES A1), roles,
URL checks (W3), events validated, idempotent creation (D6), audit of creation and deletion."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlmodel import col

from broadcast.accounts.models import AuditEvent, Role
from broadcast.accounts.service import create_api_key, create_operator
from broadcast.core.db import SessionFactory, transaction
from broadcast.directory.models import Organisation
from broadcast.sandbox.smtp import SmtpSink
from broadcast.settings import Settings
from broadcast.webhooks.models import WebhookEndpoint
from tests.conftest import make_settings
from tests.support import World, api, auth, build_world
from tests.webhook_support import ALL_EVENTS, with_webhooks

URL = "http://127.0.0.1:9/hooks/broadcast"
PUBLIC_URL = "https://93.184.216.34/hooks"  # a public address: checked, never called


def _body(organisation_id: int, url: str = URL, **extra: object) -> dict[str, object]:
    return {"organisation_id": organisation_id, "url": url, "events": ALL_EVENTS} | extra


async def _officer_of_dep68(factory: SessionFactory, world: World) -> str:
    async with transaction(factory) as session:
        dep68 = await session.get(Organisation, world.dep68)
        assert dep68 is not None
        operator = await create_operator(
            session,
            email="officer68@test.fr",
            display_name="officer68",
            role=Role.academie_officer,
            organisation=dep68,
        )
        _, key = await create_api_key(session, operator, "test")
    return key


async def test_the_secret_is_in_the_creation_response_only(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    key = auth(world.keys["officer"])
    async with api(with_webhooks(settings)) as client:
        created = await client.post(
            "/api/v1/webhooks", headers=key, json=_body(world.school_x, description="ENT")
        )
        endpoint_id = created.json()["id"]
        read = await client.get(f"/api/v1/webhooks/{endpoint_id}", headers=key)
        listed = await client.get("/api/v1/webhooks", headers=key)
        patched = await client.patch(
            f"/api/v1/webhooks/{endpoint_id}",
            headers=key,
            json={"events": ["notice.resolved"], "description": "Bandeau ENT"},
        )
    assert created.status_code == 201, created.text
    assert created.json()["secret"].startswith("whsec_")
    assert created.json()["events"] == ALL_EVENTS and created.json()["enabled"] is True
    for response in (read, listed, patched):
        assert response.status_code == 200, response.text
        assert "secret" not in response.text
    assert [e["id"] for e in listed.json()["items"]] == [endpoint_id]
    assert patched.json()["events"] == ["notice.resolved"]
    assert patched.json()["description"] == "Bandeau ENT"
    async with transaction(factory) as session:
        stored = await session.get(WebhookEndpoint, endpoint_id)
    assert stored is not None and stored.secret == created.json()["secret"]


async def test_creation_and_deletion_are_audited(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    key = auth(world.keys["admin"])
    async with api(with_webhooks(settings)) as client:
        created = await client.post("/api/v1/webhooks", headers=key, json=_body(world.academie))
        endpoint_id = created.json()["id"]
        deleted = await client.delete(f"/api/v1/webhooks/{endpoint_id}", headers=key)
        gone = await client.get(f"/api/v1/webhooks/{endpoint_id}", headers=key)
    assert deleted.status_code == 204
    assert gone.status_code == 404 and gone.json()["error"]["message"] == "Webhook introuvable."
    async with transaction(factory) as session:
        actions = (
            await session.execute(
                select(col(AuditEvent.action))
                .where(col(AuditEvent.object_type) == "webhook_endpoint")
                .order_by(col(AuditEvent.id))
            )
        ).scalars()
        assert list(actions) == ["webhook.create", "webhook.delete"]


async def test_an_endpoint_of_school_y_is_out_of_reach_outside_its_scope(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    officer68 = auth(await _officer_of_dep68(factory, world))
    async with api(with_webhooks(settings)) as client:
        created = await client.post(
            "/api/v1/webhooks", headers=auth(world.keys["officer"]), json=_body(world.school_y)
        )
        path = f"/api/v1/webhooks/{created.json()['id']}"
        calls = [
            ("GET", path, None),
            ("PATCH", path, {"enabled": False}),
            ("GET", f"{path}/messages", None),
            ("DELETE", path, None),
        ]
        for method, url, body in calls:
            outside = await client.request(method, url, headers=officer68, json=body)
            assert outside.status_code == 404, (method, url, outside.text)
            assert outside.json()["error"]["message"] == "Webhook introuvable."
            for role in ("head_x", "head_y", "viewer_x"):
                refused = await client.request(
                    method, url, headers=auth(world.keys[role]), json=body
                )
                assert refused.status_code == 403, (role, method, url)
                assert (
                    refused.json()["error"]["message"] == "Votre rôle ne permet pas cette action."
                )
        listed = await client.get("/api/v1/webhooks", headers=officer68)
        create_outside = await client.post(
            "/api/v1/webhooks", headers=officer68, json=_body(world.school_y)
        )
        still_there = await client.get(path, headers=auth(world.keys["admin"]))
    assert listed.json()["items"] == []
    assert create_outside.status_code == 404
    assert still_there.status_code == 200 and still_there.json()["enabled"] is True


async def test_a_loopback_url_is_refused_unless_internal_targets_are_allowed(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    key = auth(world.keys["officer"])
    async with api(settings) as client:
        refused = await client.post("/api/v1/webhooks", headers=key, json=_body(world.academie))
        created = await client.post(
            "/api/v1/webhooks",
            headers=key,
            json=_body(world.academie, url=PUBLIC_URL),
        )
        moved_inside = await client.patch(
            f"/api/v1/webhooks/{created.json()['id']}", headers=key, json={"url": URL}
        )
    assert refused.status_code == 422
    assert refused.json()["error"]["message"] == (
        "Adresse de webhook refusée : 127.0.0.1 est une adresse de bouclage (loopback)."
    )
    assert created.status_code == 201, created.text
    assert moved_inside.status_code == 422


async def test_plain_http_is_refused_in_production(
    database_url: str, redis_url: str, sink: SmtpSink, tmp_path: Path, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    prod = make_settings(database_url, redis_url, sink.port, tmp_path, env="prod")
    async with api(prod) as client:
        refused = await client.post(
            "/api/v1/webhooks",
            headers=auth(world.keys["officer"]),
            json=_body(world.academie, url="http://93.184.216.34/hooks"),
        )
    assert refused.status_code == 422
    assert refused.json()["error"]["message"] == (
        "Adresse de webhook refusée : seules les adresses https:// sont acceptées."
    )


async def test_unknown_events_and_fields_are_refused_in_french(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    key = auth(world.keys["officer"])
    async with api(with_webhooks(settings)) as client:
        unknown = await client.post(
            "/api/v1/webhooks",
            headers=key,
            json=_body(world.academie) | {"events": ["notice.deleted"]},
        )
        none = await client.post(
            "/api/v1/webhooks", headers=key, json=_body(world.academie) | {"events": []}
        )
        secret_given = await client.post(
            "/api/v1/webhooks", headers=key, json=_body(world.academie, secret="whsec_mine")
        )
    for response in (unknown, none, secret_given):
        assert response.status_code == 422, response.text
        assert response.json()["error"]["message"].startswith(
            "Certaines données sont invalides : « "
        )
    assert unknown.json()["error"]["details"] == [
        {
            "field": "events.0",
            "message": "valeur non permise ; valeurs acceptées : « notice.created », "
            "« notice.updated », « notice.resolved », « broadcast.queued », "
            "« broadcast.completed », « broadcast.held »",
        }
    ]


async def test_creation_with_an_idempotency_key_creates_one_endpoint(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    headers = auth(world.keys["officer"]) | {"Idempotency-Key": "webhook-1"}
    async with api(with_webhooks(settings)) as client:
        first = await client.post("/api/v1/webhooks", headers=headers, json=_body(world.academie))
        again = await client.post("/api/v1/webhooks", headers=headers, json=_body(world.academie))
        listed = await client.get("/api/v1/webhooks", headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert len(listed.json()["items"]) == 1


async def test_an_operator_can_disable_an_endpoint_and_enable_it_again(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    key = auth(world.keys["officer"])
    async with api(with_webhooks(settings)) as client:
        created = await client.post("/api/v1/webhooks", headers=key, json=_body(world.academie))
        path = f"/api/v1/webhooks/{created.json()['id']}"
        disabled = await client.patch(path, headers=key, json={"enabled": False})
        enabled = await client.patch(path, headers=key, json={"enabled": True})
    assert disabled.json()["enabled"] is False
    assert disabled.json()["disabled_reason"] == "Désactivé par un opérateur."
    assert disabled.json()["disabled_at"] is not None
    assert enabled.json()["enabled"] is True
    assert enabled.json()["disabled_at"] is None and enabled.json()["disabled_reason"] is None

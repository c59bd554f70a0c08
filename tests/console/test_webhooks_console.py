"""Webhooks in the console (issue 11, item 9): an endpoint added with a form (its secret on
the answer only), an internal address refused in French by the SSRF rules, "Envoyer un test"
received by a local subscriber with a valid signature and shown in the history (in pages),
confirmed disabling and deletion; a head teacher has none of it. Both databases."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html import unescape
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import col

from broadcast.core.db import SessionFactory, transaction
from broadcast.settings import Settings
from broadcast.webhooks.delivery import deliver_message
from broadcast.webhooks.events import new_message_id
from broadcast.webhooks.models import WebhookEndpoint, WebhookMessage
from broadcast.webhooks.sender import WebhookSender
from tests.console.console_support import csrf_of, give_password, sign_in
from tests.support import api, build_world
from tests.webhook_support import running_subscriber, with_webhooks

NEW = "/console/integrations/webhooks/nouveau"
_SECRET = re.compile(r'id="secret"[^>]*value="(whsec_[^"]+)"')


@pytest.fixture
async def sender() -> AsyncIterator[WebhookSender]:
    local = WebhookSender(allow_http=True, allow_internal=True, timeout_s=10)
    await local.start()
    yield local
    await local.close()


async def _add(client: httpx.AsyncClient, fields: list[tuple[str, str]]) -> httpx.Response:
    """Post the form as a browser does, the events checked repeating their name."""
    form = await client.get(NEW)
    return await client.post(
        "/console/integrations/webhooks",
        content=urlencode([("csrf", csrf_of(form)), *fields]),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )


async def test_a_private_address_is_refused_in_french_and_nothing_is_kept(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    officer = await give_password(factory, "officer@test.fr", with_totp=True)
    async with api(settings) as client:
        await sign_in(client, officer)
        private = await _add(
            client,
            [
                ("url", "https://10.1.2.3/hooks"),
                ("description", "ENT"),
                ("organisation", str(world.academie)),
                ("events", "notice.created"),
            ],
        )
        no_event = await _add(
            client, [("url", "https://93.184.216.34/hooks"), ("organisation", str(world.academie))]
        )
    assert private.status_code == 422
    text = unescape(private.text)
    assert "Adresse de webhook refusée : 10.1.2.3 est une adresse privée" in text
    assert 'value="https://10.1.2.3/hooks"' in text and 'value="ENT"' in text
    assert no_event.status_code == 422
    assert "À corriger" in unescape(no_event.text)
    async with factory() as session:
        assert await session.scalar(select(func.count()).select_from(WebhookEndpoint)) == 0


async def test_a_test_event_is_received_signed_and_shown_then_disabled_and_deleted(
    settings: Settings, factory: SessionFactory, sender: WebhookSender
) -> None:
    world = await build_world(factory)
    officer = await give_password(factory, "officer@test.fr", with_totp=True)
    async with running_subscriber() as subscriber, api(with_webhooks(settings)) as client:
        await sign_in(client, officer)
        created = await _add(
            client,
            [
                ("url", subscriber.url("/console")),
                ("description", "Supervision"),
                ("organisation", str(world.academie)),
                ("events", "notice.created"),
                ("events", "broadcast.held"),
            ],
        )
        found = _SECRET.search(created.text)
        assert found, created.text
        subscriber.secrets["/console"] = found.group(1)
        async with factory() as session:
            endpoint = await session.scalar(select(WebhookEndpoint))
        assert endpoint is not None
        path = f"/console/integrations/webhooks/{endpoint.id}"
        shown = await client.get(path)
        listed = await client.get("/console/integrations/webhooks")
        tested = await client.post(f"{path}/test", data={"csrf": csrf_of(shown)})
        async with factory() as session:
            message = await session.scalar(select(WebhookMessage))
        assert message is not None and message.id is not None
        await deliver_message(factory, sender, message.id, [0.05])
        history = await client.get(f"{path}?fait=test")
        confirm = await client.get(f"{path}/desactivation")
        disabled = await client.post(f"{path}/desactivation", data={"csrf": csrf_of(confirm)})
        after = await client.get(disabled.headers["location"])
        confirm_delete = await client.get(f"{path}/suppression")
        deleted = await client.post(f"{path}/suppression", data={"csrf": csrf_of(confirm_delete)})
        gone = await client.get(path)
    assert created.status_code == 200
    assert "il ne sera plus jamais affiché" in created.text
    assert endpoint.events == ["notice.created", "broadcast.held"]
    assert found.group(1) not in shown.text and found.group(1) not in listed.text
    assert "Supervision" in listed.text and "Avis créé, Envoi retenu" in listed.text
    assert tested.status_code == 303
    assert [(r.path, r.event["type"]) for r in subscriber.received] == [
        ("/console", "webhook.ping")
    ]
    assert subscriber.rejected == []  # the signature verified with the secret shown
    assert "Message de test envoyé" in history.text
    row = history.text.split("Historique des envois")[1]
    assert "Message de test" in row and "remis" in row and "<td>204</td>" in row
    assert "<td>1</td>" in row  # one attempt
    assert "Désactiver le webhook" in confirm.text and disabled.status_code == 303
    assert "Webhook désactivé." in after.text and "Réactiver" in after.text
    assert "désactivé le" in after.text
    assert "Envoyer un test" not in after.text
    assert deleted.status_code == 303 and gone.status_code == 404
    async with factory() as session:
        assert await session.scalar(select(func.count()).select_from(WebhookEndpoint)) == 0


async def test_the_history_is_read_in_pages_and_a_head_teacher_has_no_webhooks(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    async with transaction(factory) as session:
        endpoint = WebhookEndpoint(
            organisation_id=world.academie,
            url="https://93.184.216.34/hooks",
            events=["notice.created"],
            secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        )
        session.add(endpoint)
        await session.flush()
        session.add_all(
            WebhookMessage(
                endpoint_id=endpoint.id or 0,
                message_id=new_message_id(),
                event_type="notice.created",
                status="failed",
                attempts=3,
                last_status_code=500,
            )
            for _ in range(55)
        )
    officer = await give_password(factory, "officer@test.fr", with_totp=True)
    head = await give_password(factory, "head_x@test.fr")
    path = f"/console/integrations/webhooks/{endpoint.id}"
    async with api(settings) as client:
        await sign_in(client, officer)
        first = await client.get(path)
        older = re.search(r'href="(/console/integrations/webhooks/\d+\?avant=\d+)"', first.text)
        assert older, first.text
        second = await client.get(older.group(1))
    async with api(settings) as client:
        await sign_in(client, head)
        refused = [
            (await client.get(url)).status_code
            for url in ("/console/integrations/webhooks", NEW, path, f"{path}/suppression")
        ]
    assert first.text.count("<td>500</td>") == 50 and "Messages plus anciens" in first.text
    assert second.text.count("<td>500</td>") == 5 and "Messages plus anciens" not in second.text
    assert first.text.count("échec") == 50
    assert refused == [403, 403, 403, 403]
    async with factory() as session:
        count = await session.scalar(
            select(func.count()).where(col(WebhookMessage.endpoint_id) == endpoint.id)
        )
    assert count == 55

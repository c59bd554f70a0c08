"""Issue 9, item 12: the public rate limits count the connection's address; X-Forwarded-For is
believed only from the proxies named in ``trusted_proxies`` (none by default)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from pydantic import ValidationError

from admin.app import create_app
from broadcast.core.db import SessionFactory
from broadcast.sandbox.push import PushSandbox
from broadcast.settings import Settings
from tests.push_support import browser_subscription, running_push, with_push
from tests.support import build_world

BURST = 10  # admin.api.push.PUBLIC_RATE


@pytest.fixture
async def push() -> AsyncIterator[PushSandbox]:
    async with running_push() as sandbox:
        yield sandbox


@asynccontextmanager
async def client_from(settings: Settings, peer: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app reached from the connection address ``peer``."""
    app = create_app(with_push(settings))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


async def _follow(
    client: httpx.AsyncClient, push: PushSandbox, school: int, forwarded_for: str
) -> int:
    response = await client.post(
        "/api/v1/push/follow",
        json={**browser_subscription(push), "organisation_id": school},
        headers={"X-Forwarded-For": forwarded_for},
    )
    return response.status_code


@pytest.mark.parametrize("trusted", [[], ["10.0.0.0/8", "192.0.2.1"]])
async def test_a_forged_forwarded_for_does_not_escape_the_limit(
    settings: Settings, factory: SessionFactory, push: PushSandbox, trusted: list[str]
) -> None:
    world = await build_world(factory)
    settings = settings.model_copy(update={"trusted_proxies": trusted})
    async with client_from(settings, "198.51.100.20") as client:
        answers = [
            await _follow(client, push, world.school_x, f"203.0.113.{n}") for n in range(BURST + 1)
        ]
    assert answers == [201] * BURST + [429]


async def test_a_trusted_proxy_names_the_client(
    settings: Settings, factory: SessionFactory, push: PushSandbox
) -> None:
    world = await build_world(factory)
    settings = settings.model_copy(update={"trusted_proxies": ["10.0.0.0/8"]})
    async with client_from(settings, "10.1.2.3") as client:
        first = [
            await _follow(client, push, world.school_x, "203.0.113.7") for _ in range(BURST + 1)
        ]
        # the proxy appends the address it saw: what the client wrote before it is not believed
        forged = await _follow(client, push, world.school_x, "198.51.100.1, 203.0.113.7")
        other = await _follow(client, push, world.school_x, "203.0.113.8")
    assert first == [201] * BURST + [429]
    assert forged == 429
    assert other == 201


def test_trusted_proxies_must_be_addresses_or_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROADCAST_ENV", "dev")
    assert Settings(_env_file=None).trusted_proxies == []  # type: ignore[call-arg]
    monkeypatch.setenv("BROADCAST_TRUSTED_PROXIES", '["10.0.0.0/8", "::1"]')
    assert Settings(_env_file=None).trusted_proxies == ["10.0.0.0/8", "::1"]  # type: ignore[call-arg]
    monkeypatch.setenv("BROADCAST_TRUSTED_PROXIES", '["proxy.local"]')
    with pytest.raises(ValidationError, match=r"not an IP address or network: 'proxy\.local'"):
        Settings(_env_file=None)  # type: ignore[call-arg]

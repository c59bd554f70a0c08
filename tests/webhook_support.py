"""Shared by the webhook tests: a subscriber system on 127.0.0.1 that verifies every request
with the ``standardwebhooks`` package, and the API calls that create endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiohttp import web
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from broadcast.settings import Settings
from tests.support import auth

ALL_EVENTS = [
    "notice.created",
    "notice.updated",
    "notice.resolved",
    "broadcast.queued",
    "broadcast.completed",
    "broadcast.held",
]


@dataclass(frozen=True)
class Received:
    path: str
    webhook_id: str
    event: dict[str, Any]


@dataclass
class Subscriber:
    """Answers by path: ``/gone...`` 410, ``/busy...`` 429 with ``Retry-After: 30``, ``/flaky...``
    500 while ``failures_left`` lasts, then 204; anything else 204. A request whose signature
    does not verify gets 401."""

    base_url: str = ""
    secrets: dict[str, str] = field(default_factory=dict)
    failures_left: dict[str, int] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def events(self, path: str) -> list[dict[str, Any]]:
        return [r.event for r in self.received if r.path == path]

    def of_type(self, path: str, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events(path) if e["type"] == event_type]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            event = Webhook(self.secrets[request.path]).verify(body, dict(request.headers))
        except (KeyError, WebhookVerificationError):
            self.rejected.append(request.path)
            return web.Response(status=401)
        self.received.append(Received(request.path, request.headers["webhook-id"], event))
        if request.path.startswith("/busy"):
            return web.Response(status=429, headers={"Retry-After": "30"})
        return web.Response(status=self._status(request.path))

    def _status(self, path: str) -> int:
        if path.startswith("/gone"):
            return 410
        if self.failures_left.get(path, 0) > 0:
            self.failures_left[path] -= 1
            return 500
        return 204


@asynccontextmanager
async def running_subscriber() -> AsyncIterator[Subscriber]:
    subscriber = Subscriber()
    app = web.Application()
    app.router.add_post("/{tail:.*}", subscriber.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    subscriber.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield subscriber
    finally:
        await runner.cleanup()


def with_webhooks(settings: Settings) -> Settings:
    """Internal targets allowed (the subscriber is on 127.0.0.1) and a short retry schedule."""
    return settings.model_copy(
        update={"webhooks_allow_internal": True, "webhook_retry_delays_s": [0.05, 0.05, 0.05]}
    )


async def subscribe(
    client: httpx.AsyncClient,
    key: str,
    subscriber: Subscriber,
    path: str,
    organisation_id: int,
    events: list[str] | None = None,
) -> dict[str, Any]:
    """Create an endpoint through the API and give its secret to the subscriber."""
    response = await client.post(
        "/api/v1/webhooks",
        headers=auth(key),
        json={
            "organisation_id": organisation_id,
            "url": subscriber.url(path),
            "events": events or ALL_EVENTS,
            "description": f"Abonné {path}",
        },
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    subscriber.secrets[path] = created["secret"]
    return created

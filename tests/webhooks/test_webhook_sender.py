"""The webhook sender against a real local receiver on 127.0.0.1 that checks every signature
with the ``standardwebhooks`` package (RULES W1, W2, W3)."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from yarl import URL

from broadcast.core.httputil import parse_retry_after
from broadcast.webhooks import signing
from broadcast.webhooks.sender import (
    RETRY_DELAYS_S,
    DeliveryOutcome,
    WebhookSender,
    classify,
    next_delay,
    retry_schedule,
)
from broadcast.webhooks.ssrf import PinnedResolver, ResolvedTarget

SECRET = signing.new_secret()
PAYLOAD = {"notice_id": 7, "title": "ENT indisponible", "status": "investigating"}
SLOW_S = 0.6
TIMEOUT_S = 0.2


@dataclass
class Receiver:
    """A subscriber system: verifies each request like a real one would, and records it."""

    base_url: str
    port: int
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    @property
    def paths(self) -> list[str]:
        return [path for path, _ in self.received]


def receiver_app(receiver: Receiver) -> web.Application:
    @web.middleware
    async def verify(request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.read()
        try:
            event = Webhook(SECRET).verify(body, dict(request.headers))
        except WebhookVerificationError:
            receiver.rejected.append(request.path)
            return web.Response(status=401)
        receiver.received.append((request.path, event))
        response: web.StreamResponse = await handler(request)
        return response

    async def ok(request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(SLOW_S)
        return web.Response(status=200)

    def status(code: int, **headers: str) -> Any:
        async def handler(request: web.Request) -> web.Response:
            return web.Response(status=code, headers=headers)

        return handler

    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    app = web.Application(middlewares=[verify])
    app.router.add_post("/ok", ok)
    app.router.add_post("/target", ok)
    app.router.add_post("/slow", slow)
    app.router.add_post("/error", status(500))
    app.router.add_post("/gone", status(410))
    app.router.add_post("/busy", status(429, **{"Retry-After": "7"}))
    app.router.add_post("/unavailable", status(503, **{"Retry-After": later}))
    app.router.add_post("/bad", status(400))
    app.router.add_post("/redirect", status(302, Location="/target"))
    app.router.add_post("/moved", status(308, Location="/target"))
    return app


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    holder = Receiver(base_url="", port=0)
    runner = web.AppRunner(receiver_app(holder))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    holder.port = runner.addresses[0][1]
    holder.base_url = f"http://127.0.0.1:{holder.port}"
    yield holder
    await runner.cleanup()


@pytest.fixture
async def sender() -> AsyncIterator[WebhookSender]:
    """A patient sender: a loaded machine must not turn an answer into a timeout."""
    local = WebhookSender(allow_http=True, allow_internal=True, timeout_s=10)
    await local.start()
    yield local
    await local.close()


async def deliver(sender: WebhookSender, url: str, msg_id: str = "msg_1") -> Any:
    return await sender.deliver(url, SECRET, "notice.updated", PAYLOAD, msg_id)


async def test_signed_event_is_delivered(sender: WebhookSender, receiver: Receiver) -> None:
    attempt = await deliver(sender, receiver.url("/ok"))
    assert attempt.delivered and attempt.status_code == 204
    assert attempt.outcome is DeliveryOutcome.delivered and not attempt.disable
    assert receiver.rejected == []
    [(path, event)] = receiver.received
    assert path == "/ok"
    assert event["type"] == "notice.updated" and event["data"] == PAYLOAD
    assert datetime.fromisoformat(event["timestamp"]).tzinfo is not None


async def test_one_session_carries_many_deliveries(
    sender: WebhookSender, receiver: Receiver
) -> None:
    attempts = await asyncio.gather(
        *(deliver(sender, receiver.url("/ok"), f"msg_{n}") for n in range(5))
    )
    assert all(a.delivered for a in attempts)
    assert len(receiver.received) == 5 and receiver.rejected == []


async def test_host_name_goes_through_the_pinned_resolver(
    sender: WebhookSender, receiver: Receiver
) -> None:
    attempt = await deliver(sender, f"http://localhost:{receiver.port}/ok")
    assert attempt.delivered
    assert receiver.paths == ["/ok"]


async def test_connections_go_only_to_pinned_addresses(receiver: Receiver) -> None:
    """aiohttp asks the pinned resolver, never DNS: an unpinned host does not resolve, and a
    pinned one connects to its checked address whatever DNS would say (no rebinding)."""
    resolver = PinnedResolver()
    connector = aiohttp.TCPConnector(resolver=resolver, use_dns_cache=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        with pytest.raises(aiohttp.ClientConnectorError):
            await session.post(f"http://localhost:{receiver.port}/ok", data=b"{}")
        url = URL(f"http://rebind.invalid:{receiver.port}/ok")
        resolver.pin(ResolvedTarget(url, "rebind.invalid", receiver.port, ("127.0.0.1",)))
        async with session.post(url, data=b"{}") as response:
            assert response.status == 401  # reached the receiver, which wants a signature
    assert receiver.rejected == ["/ok"]


async def test_server_error_is_retried(sender: WebhookSender, receiver: Receiver) -> None:
    attempt = await deliver(sender, receiver.url("/error"))
    assert attempt.should_retry and attempt.status_code == 500
    assert attempt.retry_after_s is None and not attempt.disable


async def test_gone_disables_the_endpoint(sender: WebhookSender, receiver: Receiver) -> None:
    attempt = await deliver(sender, receiver.url("/gone"))
    assert attempt.disable and attempt.status_code == 410
    assert attempt.outcome is DeliveryOutcome.failed


async def test_too_many_requests_honours_retry_after_seconds(
    sender: WebhookSender, receiver: Receiver
) -> None:
    attempt = await deliver(sender, receiver.url("/busy"))
    assert attempt.should_retry and attempt.status_code == 429
    assert attempt.retry_after_s == 7


async def test_retry_after_as_http_date(sender: WebhookSender, receiver: Receiver) -> None:
    attempt = await deliver(sender, receiver.url("/unavailable"))
    assert attempt.should_retry and attempt.status_code == 503
    assert attempt.retry_after_s is not None and 100 <= attempt.retry_after_s <= 121


@pytest.mark.parametrize("path", ["/redirect", "/moved"])
async def test_redirect_is_not_followed(
    sender: WebhookSender, receiver: Receiver, path: str
) -> None:
    attempt = await deliver(sender, receiver.url(path))
    assert attempt.outcome is DeliveryOutcome.failed and not attempt.should_retry
    assert attempt.error is not None and "non suivie" in attempt.error
    assert receiver.paths == [path]


async def test_client_error_is_not_retried(sender: WebhookSender, receiver: Receiver) -> None:
    attempt = await deliver(sender, receiver.url("/bad"))
    assert attempt.outcome is DeliveryOutcome.failed and attempt.status_code == 400
    assert not attempt.disable


async def test_timeout_is_retried(receiver: Receiver) -> None:
    impatient = WebhookSender(allow_http=True, allow_internal=True, timeout_s=TIMEOUT_S)
    await impatient.start()
    try:
        attempt = await deliver(impatient, receiver.url("/slow"))
    finally:
        await impatient.close()
    assert attempt.should_retry and attempt.status_code is None
    assert attempt.error is not None and "Pas de réponse" in attempt.error
    assert attempt.duration_s < SLOW_S


async def test_connection_refused_is_retried(sender: WebhookSender) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    attempt = await deliver(sender, f"http://127.0.0.1:{port}/ok")
    assert attempt.should_retry and attempt.status_code is None


@pytest.mark.parametrize(
    ("allow_http", "reason"), [(False, "https://"), (True, "bouclage")], ids=["http", "internal"]
)
async def test_ssrf_check_runs_before_every_request(
    receiver: Receiver, allow_http: bool, reason: str
) -> None:
    strict = WebhookSender(allow_http=allow_http, allow_internal=False)
    await strict.start()
    try:
        attempt = await deliver(strict, receiver.url("/ok"))
    finally:
        await strict.close()
    assert attempt.outcome is DeliveryOutcome.failed and not attempt.should_retry
    assert attempt.error is not None and reason in attempt.error
    assert receiver.received == [] and receiver.rejected == []


def test_classification_table() -> None:
    assert classify(200, None, 0).delivered
    assert classify(299, None, 0).delivered
    assert classify(502, "30", 0).retry_after_s == 30
    assert classify(404, None, 0).outcome is DeliveryOutcome.failed
    assert classify(301, None, 0).outcome is DeliveryOutcome.failed
    assert classify(410, "30", 0).disable


def test_retry_after_parsing() -> None:
    now = datetime(2026, 11, 28, 8, 0, tzinfo=UTC).timestamp()
    assert parse_retry_after(None, now) is None
    assert parse_retry_after(" 120 ", now) == 120
    assert parse_retry_after("Sat, 28 Nov 2026 08:02:00 GMT", now) == 120
    assert parse_retry_after("Sat, 28 Nov 2026 07:00:00 GMT", now) == 0
    assert parse_retry_after("bientôt", now) is None
    assert parse_retry_after("-5", now) is None


def test_retry_schedule_spreads_about_a_day_with_jitter() -> None:
    schedule = retry_schedule(random.Random(3))
    assert len(schedule) == len(RETRY_DELAYS_S)
    for delay, base in zip(schedule, RETRY_DELAYS_S, strict=True):
        assert 0.8 * base <= delay <= 1.2 * base
    assert 12 * 3600 <= sum(schedule) <= 30 * 3600
    assert schedule != retry_schedule(random.Random(4))


def test_next_delay_honours_retry_after_and_stops() -> None:
    rng = random.Random(1)
    first = next_delay(1, rng=rng)
    assert first is not None and 4 <= first <= 6
    assert next_delay(1, 7, rng=rng) == 7
    later = next_delay(2, 7, rng=rng)
    assert later is not None and later >= 240
    assert next_delay(1, 10 * 86400, rng=rng) == 86400
    assert next_delay(len(RETRY_DELAYS_S) + 1) is None
    assert next_delay(0) is None


async def test_unresolvable_host_is_retried(
    sender: WebhookSender, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_such_name(*args: Any, **kwargs: Any) -> list[Any]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    attempt = await deliver(sender, "https://hooks.example.fr/")
    assert attempt.should_retry and attempt.status_code is None
    assert attempt.error is not None and "ne se résout pas" in attempt.error

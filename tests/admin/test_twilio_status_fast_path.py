"""Twilio status callbacks on the fast path (issue 13, item 4): answered before the router with
no database, a caller that hangs up leaves one line and no traceback, what the fast path does
not read plainly still reaches the route, and appends made together share one round trip."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import MutableMapping
from typing import Any

import pytest
import redis.asyncio as aioredis

from admin.app import create_app
from broadcast.channels.base import ChannelName, ProviderStatus
from broadcast.core.outages import is_outage
from broadcast.deliveries.callback_stream import STREAM, CallbackStream
from broadcast.deliveries.models import DeliveryStatus
from broadcast.settings import Settings, TwilioAccount
from tests.sms_support import ACCOUNT_SID, AUTH_TOKEN, sign
from tests.support import api

STATUS_PATH = "/providers/twilio/status"
SID = "SM" + "c" * 32


def _without_database(settings: Settings) -> Settings:
    twilio = TwilioAccount(
        name="t", account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, sender_id="Rectorat"
    )
    return settings.model_copy(
        update={
            "database_url": "postgresql+asyncpg://nobody@127.0.0.1:9/absent",
            "twilio_accounts": [twilio],
        }
    )


async def test_a_caller_hanging_up_mid_body_leaves_one_line_and_no_entry(
    settings: Settings, redis: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(_without_database(settings))
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": b"MessageSid=SM", "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": STATUS_PATH,
        "raw_path": STATUS_PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", b"400"),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    with caplog.at_level(logging.INFO):
        async with app.router.lifespan_context(app):
            await app(scope, receive, send)
    assert sent == []  # nobody to answer
    assert await redis.xlen(STREAM) == 0
    assert [r.getMessage() for r in caplog.records if "hung up" in r.getMessage()] == [
        "a provider callback hung up before its form was read"
    ]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_multipart_callback_goes_through_the_route(
    settings: Settings, redis: aioredis.Redis
) -> None:
    params = {"MessageSid": SID, "AccountSid": ACCOUNT_SID, "MessageStatus": "delivered"}
    async with api(_without_database(settings)) as client:
        answer = await client.post(
            STATUS_PATH,
            data=params,
            files={"unused": ("a.txt", b"x")},
            headers=sign(settings, STATUS_PATH, params),
        )
        forged = await client.post(
            STATUS_PATH, data=params, headers={"X-Twilio-Signature": "bm9wZQ=="}
        )
    assert answer.status_code == 204
    assert forged.status_code == 403
    assert forged.json()["error"]["message"] == "Signature invalide."
    assert await redis.xlen(STREAM) == 1


async def test_appends_made_together_are_all_written(redis: aioredis.Redis) -> None:
    stream = CallbackStream(redis)
    news = [ProviderStatus(f"SM{n:032d}", DeliveryStatus.delivered) for n in range(300)]
    await asyncio.gather(*(stream.append(ChannelName.sms, item) for item in news))
    assert await redis.xlen(STREAM) == 300


async def test_each_append_raises_when_redis_is_away() -> None:
    away = aioredis.Redis(host="127.0.0.1", port=9)
    stream = CallbackStream(away)
    news = ProviderStatus(SID, DeliveryStatus.delivered)
    try:
        results = await asyncio.gather(
            *(stream.append(ChannelName.sms, news) for _ in range(3)), return_exceptions=True
        )
    finally:
        await away.aclose()
    assert len(results) == 3
    assert all(isinstance(r, Exception) and is_outage(r) for r in results)

"""The count-only push service of the benchmarks: accepts what looks like a web push, counts it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from broadcast.channels.base import Outcome
from broadcast.channels.push.vapid import generate_vapid_keys
from broadcast.channels.push.webpush import WebPushSender
from broadcast.sandbox.push import PushSandbox
from broadcast.sandbox.push_counter import PushCounter, start_counting_server


@pytest.fixture
async def counter() -> AsyncIterator[tuple[PushCounter, str]]:
    counting = PushCounter()
    server = await start_counting_server("127.0.0.1", 0, counting)
    host, port = server.sockets[0].getsockname()[:2]
    yield counting, f"http://{host}:{port}"
    server.close()
    await server.wait_closed()


async def test_counts_real_pushes_and_refuses_what_is_not_one(
    counter: tuple[PushCounter, str],
) -> None:
    counting, origin = counter
    keys = PushSandbox().new_subscription()["keys"]  # a browser's keys; nobody decrypts here
    sender = WebPushSender(generate_vapid_keys()[0], "mailto:bench@example.fr", timeout_s=5)
    await sender.start()
    try:
        results = [
            await sender.send(
                {"endpoint": f"{origin}/push/{n}", "keys": keys},
                {"title": "t"},
                ttl=60,
                urgent=False,
                topic=None,
            )
            for n in range(3)
        ]
    finally:
        await sender.close()
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{origin}/push/x", data=b"plain", headers={"TTL": "60"}) as refused,
    ):
        assert refused.status == 400
    assert [r.outcome for r in results] == [Outcome.sent] * 3
    assert (counting.received, counting.refused) == (3, 1)

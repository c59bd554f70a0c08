"""The push sandbox: checks VAPID, decrypts with the subscription's key, records, fails on demand.

Requests are built with the real pywebpush encryption and py_vapid signatures, then posted with
aiohttp so that each test can break exactly one thing.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from py_vapid import Vapid02  # type: ignore[import-untyped]
from pywebpush import WebPusher  # type: ignore[import-untyped]

from broadcast.sandbox.push import PushSandbox, b64url_encode, public_key_b64

SUBJECT = "mailto:rectorat@example.fr"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    text: str


@pytest.fixture
async def push() -> AsyncIterator[PushSandbox]:
    sandbox = PushSandbox()
    await sandbox.start()
    yield sandbox
    await sandbox.stop()


@pytest.fixture(scope="module")
def vapid() -> Any:
    key = Vapid02()
    key.generate_keys()
    return key


def vapid_header(vapid: Any, aud: str, exp: int | None = None) -> str:
    claims = {"aud": aud, "sub": SUBJECT, "exp": exp or int(time.time()) + 3600}
    return str(vapid.sign(claims)["Authorization"])


async def post(
    subscription: dict[str, Any],
    data: bytes,
    headers: dict[str, str],
    *,
    encrypt_for: dict[str, Any] | None = None,
) -> Answer:
    body = WebPusher(encrypt_for or subscription).encode(data, "aes128gcm")["body"]
    sent = {"Content-Encoding": "aes128gcm", **headers}
    async with (
        aiohttp.ClientSession() as session,
        session.post(subscription["endpoint"], data=body, headers=sent) as response,
    ):
        return Answer(response.status, dict(response.headers), await response.text())


def good_headers(push: PushSandbox, vapid: Any, **extra: str) -> dict[str, str]:
    return {"Authorization": vapid_header(vapid, push.origin), "TTL": "60", **extra}


async def test_decrypts_and_records_a_valid_message(push: PushSandbox, vapid: Any) -> None:
    subscription = push.new_subscription()
    payload = {"title": "Coupure réseau", "body": "Le collège est fermé."}
    headers = good_headers(push, vapid, Urgency="high", Topic="notice-12")

    answer = await post(subscription, json.dumps(payload).encode(), headers)

    assert answer.status == 201
    assert answer.headers["Location"].startswith(f"{push.origin}/message/")
    [message] = push.messages_for(subscription)
    assert message.data == payload
    assert (message.ttl, message.urgency, message.topic) == (60, "high", "notice-12")
    assert message.vapid_sub == SUBJECT
    assert message.vapid_key == public_key_b64(vapid.public_key)


async def test_urgency_defaults_to_normal_and_topic_is_optional(
    push: PushSandbox, vapid: Any
) -> None:
    subscription = push.new_subscription()
    await post(subscription, b"{}", good_headers(push, vapid))
    [message] = push.messages
    assert (message.urgency, message.topic) == ("normal", None)


async def test_tampered_signature_is_401(push: PushSandbox, vapid: Any) -> None:
    subscription = push.new_subscription()
    header = vapid_header(vapid, push.origin)
    token = header.split("t=", 1)[1].split(",", 1)[0]
    signature = token.rsplit(".", 1)[1]
    tampered_signature = ("A" if signature[0] != "A" else "B") + signature[1:]
    headers = {"Authorization": header.replace(signature, tampered_signature), "TTL": "60"}

    answer = await post(subscription, b"{}", headers)

    assert answer.status == 401
    assert push.messages == []
    assert push.refusals[-1].reason == "VAPID signature does not verify"


async def test_key_in_header_must_be_the_signing_key(push: PushSandbox, vapid: Any) -> None:
    other = Vapid02()
    other.generate_keys()
    header = vapid_header(vapid, push.origin)
    forged = header.split(",k=")[0] + ",k=" + public_key_b64(other.public_key)

    answer = await post(push.new_subscription(), b"{}", {"Authorization": forged, "TTL": "0"})

    assert answer.status == 401


@pytest.mark.parametrize(
    ("aud", "exp", "reason"),
    [
        ("https://push.example.fr", None, "aud"),
        (None, int(time.time()) - 10, "exp"),
        (None, int(time.time()) + 25 * 3600, "exp"),
    ],
    ids=["another-audience", "expired", "too-far-ahead"],  # stable: every xdist worker agrees
)
async def test_vapid_claims_are_checked(
    push: PushSandbox, vapid: Any, aud: str | None, exp: int | None, reason: str
) -> None:
    headers = {"Authorization": vapid_header(vapid, aud or push.origin, exp), "TTL": "60"}
    answer = await post(push.new_subscription(), b"{}", headers)
    assert answer.status == 401
    assert reason in push.refusals[-1].reason


async def test_missing_or_bad_authorization_is_401(push: PushSandbox) -> None:
    subscription = push.new_subscription()
    assert (await post(subscription, b"{}", {"TTL": "60"})).status == 401
    headers = {"Authorization": "WebPush abc.def.ghi", "TTL": "60"}
    assert (await post(subscription, b"{}", headers)).status == 401


async def test_subscription_bound_to_another_server_key_is_403(
    push: PushSandbox, vapid: Any
) -> None:
    other = Vapid02()
    other.generate_keys()
    subscription = push.new_subscription(application_server_key=public_key_b64(other.public_key))

    answer = await post(subscription, b"{}", good_headers(push, vapid))

    assert answer.status == 403
    assert push.messages == []


@pytest.mark.parametrize(
    "headers",
    [{"TTL": ""}, {"Urgency": "now"}, {"Topic": "x" * 33}, {"Topic": "notice 12"}],
)
async def test_bad_delivery_headers_are_400(
    push: PushSandbox, vapid: Any, headers: dict[str, str]
) -> None:
    sent = {**good_headers(push, vapid), **headers}
    if sent["TTL"] == "":
        del sent["TTL"]
    answer = await post(push.new_subscription(), b"{}", sent)
    assert answer.status == 400


async def test_body_encrypted_for_another_subscription_is_400(
    push: PushSandbox, vapid: Any
) -> None:
    subscription, other = push.new_subscription(), push.new_subscription()
    answer = await post(subscription, b"{}", good_headers(push, vapid), encrypt_for=other)
    assert answer.status == 400
    assert "decrypt" in push.refusals[-1].reason


async def test_body_over_4096_bytes_is_413(push: PushSandbox, vapid: Any) -> None:
    answer = await post(push.new_subscription(), b"x" * 5000, good_headers(push, vapid))
    assert answer.status == 413


async def test_unknown_is_404_and_expired_is_410(push: PushSandbox, vapid: Any) -> None:
    subscription = push.new_subscription()
    unknown = {**subscription, "endpoint": f"{push.origin}/push/{b64url_encode(b'nobody')}"}
    assert (await post(unknown, b"{}", good_headers(push, vapid))).status == 404

    push.expire(subscription)
    assert (await post(subscription, b"{}", good_headers(push, vapid))).status == 410
    assert (await post(subscription, b"{}", good_headers(push, vapid))).status == 410


async def test_answer_next_then_behave(push: PushSandbox, vapid: Any) -> None:
    subscription = push.new_subscription()
    push.answer_next(429, times=2, retry_after="30")

    statuses = [(await post(subscription, b"{}", good_headers(push, vapid))) for _ in range(3)]

    assert [answer.status for answer in statuses] == [429, 429, 201]
    assert statuses[0].headers["Retry-After"] == "30"
    assert len(push.messages) == 1


async def test_restart_keeps_port_and_clear(push: PushSandbox, vapid: Any) -> None:
    subscription = push.new_subscription()
    port = push.port
    await push.stop()
    await push.start()
    assert push.port == port

    assert (await post(subscription, b"{}", good_headers(push, vapid))).status == 201
    assert push.connections_opened == 1
    push.clear()
    assert (push.messages, push.refusals, push.connections_opened) == ([], [], 0)

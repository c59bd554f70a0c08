"""Web push sending with the real pywebpush / py_vapid against the local push sandbox (P1-P3)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from broadcast.channels.base import Outcome
from broadcast.channels.push.vapid import generate_vapid_keys
from broadcast.channels.push.webpush import (
    MAX_PAYLOAD_BYTES,
    WebPushSender,
    fit_payload,
    mask_endpoint,
    topic_for_notice,
)
from broadcast.cli import main
from broadcast.core.httputil import parse_retry_after
from broadcast.sandbox.push import PushSandbox
from broadcast.settings import get_settings

SUBJECT = "mailto:rectorat@example.fr"
PAYLOAD = {"title": "Coupure réseau", "body": "Le collège Jean Moulin est fermé demain.", "id": 7}


@pytest.fixture
async def push() -> AsyncIterator[PushSandbox]:
    sandbox = PushSandbox()
    await sandbox.start()
    yield sandbox
    await sandbox.stop()


@pytest.fixture(scope="module")
def vapid_private_key() -> str:
    return generate_vapid_keys()[0]


@pytest.fixture
async def sender(vapid_private_key: str) -> AsyncIterator[WebPushSender]:
    web_push = WebPushSender(vapid_private_key, SUBJECT, timeout_s=5)
    await web_push.start()
    yield web_push
    await web_push.close()


async def test_payload_arrives_decrypted_with_ttl_urgency_and_topic(
    push: PushSandbox, sender: WebPushSender
) -> None:
    subscription = push.new_subscription(application_server_key=sender.application_server_key)

    result = await sender.send(
        subscription, PAYLOAD, ttl=3600, urgent=True, topic=topic_for_notice(7)
    )

    assert result.outcome is Outcome.sent
    assert result.status == 201
    assert result.provider_message_id is not None
    assert result.provider_message_id.startswith(f"{push.origin}/message/")
    [message] = push.messages_for(subscription)
    assert message.data == PAYLOAD
    assert (message.ttl, message.urgency, message.topic) == (3600, "high", "notice-7")
    assert message.vapid_sub == SUBJECT


async def test_not_urgent_is_normal_and_ttl_zero_is_still_sent(
    push: PushSandbox, sender: WebPushSender
) -> None:
    subscription = push.new_subscription()
    result = await sender.send(subscription, PAYLOAD, ttl=0, urgent=False, topic=None)
    assert result.outcome is Outcome.sent
    [message] = push.messages
    assert (message.ttl, message.urgency, message.topic) == (0, "normal", None)


async def test_another_vapid_key_is_403_alert_operator_and_kept(
    push: PushSandbox, sender: WebPushSender
) -> None:
    other = WebPushSender(generate_vapid_keys()[0], SUBJECT)
    await other.start()
    subscription = push.new_subscription(application_server_key=sender.application_server_key)
    try:
        refused = await other.send(subscription, PAYLOAD, ttl=60, urgent=True, topic=None)
    finally:
        await other.close()

    assert refused.outcome is Outcome.permanent
    assert (refused.status, refused.alert_operator, refused.delete_subscription) == (
        403,
        True,
        False,
    )
    again = await sender.send(subscription, PAYLOAD, ttl=60, urgent=True, topic=None)
    assert again.outcome is Outcome.sent


async def test_injected_401_and_403_alert_the_operator(
    push: PushSandbox, sender: WebPushSender
) -> None:
    subscription = push.new_subscription()
    for status in (401, 403):
        push.answer_next(status)
        result = await sender.send(subscription, PAYLOAD, ttl=60, urgent=False, topic=None)
        assert (result.outcome, result.status) == (Outcome.permanent, status)
        assert result.alert_operator and not result.delete_subscription


async def test_expired_subscription_is_410_delete(push: PushSandbox, sender: WebPushSender) -> None:
    subscription = push.new_subscription()
    push.expire(subscription)

    result = await sender.send(subscription, PAYLOAD, ttl=60, urgent=True, topic=None)

    assert (result.outcome, result.status) == (Outcome.permanent, 410)
    assert result.delete_subscription and not result.alert_operator


async def test_404_deletes_the_subscription(push: PushSandbox, sender: WebPushSender) -> None:
    push.answer_next(404)
    result = await sender.send(push.new_subscription(), PAYLOAD, ttl=60, urgent=True, topic=None)
    assert (result.outcome, result.delete_subscription) == (Outcome.permanent, True)


async def test_429_with_retry_after_is_transient(push: PushSandbox, sender: WebPushSender) -> None:
    subscription = push.new_subscription()
    push.answer_next(429, retry_after="120")

    result = await sender.send(subscription, PAYLOAD, ttl=60, urgent=True, topic=None)

    assert (result.outcome, result.status, result.retry_after_s) == (Outcome.transient, 429, 120)
    assert not result.delete_subscription and not result.alert_operator


async def test_500_without_retry_after_is_transient(
    push: PushSandbox, sender: WebPushSender
) -> None:
    push.answer_next(503)
    result = await sender.send(push.new_subscription(), PAYLOAD, ttl=60, urgent=True, topic=None)
    assert (result.outcome, result.status, result.retry_after_s) == (Outcome.transient, 503, None)


async def test_timeout_and_refused_connection_are_transient(
    push: PushSandbox, vapid_private_key: str
) -> None:
    impatient = WebPushSender(vapid_private_key, SUBJECT, timeout_s=0.2)
    await impatient.start()
    subscription = push.new_subscription()
    try:
        push.delay_s = 1.0
        timed_out = await impatient.send(subscription, PAYLOAD, ttl=60, urgent=True, topic=None)
        push.delay_s = 0.0
        await push.stop()
        refused = await impatient.send(subscription, PAYLOAD, ttl=60, urgent=True, topic=None)
    finally:
        await impatient.close()

    assert (timed_out.outcome, timed_out.status) == (Outcome.transient, None)
    assert (refused.outcome, refused.status) == (Outcome.transient, None)
    assert subscription["endpoint"] not in (refused.error or "")


async def test_ten_kilobyte_body_is_truncated_under_3_kb(
    push: PushSandbox, sender: WebPushSender
) -> None:
    long_text = "Information importante sur la fermeture de l'établissement. " * 170
    assert len(long_text.encode()) > 10_000
    payload = {**PAYLOAD, "body": long_text}

    result = await sender.send(push.new_subscription(), payload, ttl=60, urgent=True, topic=None)

    assert result.outcome is Outcome.sent
    [message] = push.messages
    assert len(message.payload) <= MAX_PAYLOAD_BYTES
    assert message.data["title"] == PAYLOAD["title"]
    assert message.data["body"].endswith("…")
    assert long_text.startswith(message.data["body"][:-1])
    assert len(message.payload) > MAX_PAYLOAD_BYTES - 100  # shortened no more than needed


def test_fit_payload_leaves_small_payloads_and_shortens_title_when_needed() -> None:
    assert json.loads(fit_payload(PAYLOAD)) == PAYLOAD
    huge = {"title": "é" * 4000, "body": "b" * 4000}
    fitted = json.loads(fit_payload(huge, limit=500))
    assert fitted["body"] == "…"
    assert fitted["title"].endswith("…")
    assert len(fit_payload(huge, limit=500)) <= 500


async def test_many_sends_share_one_session_and_connection(
    push: PushSandbox, sender: WebPushSender
) -> None:
    session = sender.session
    subscriptions = [push.new_subscription() for _ in range(20)]

    for subscription in subscriptions:
        result = await sender.send(subscription, PAYLOAD, ttl=60, urgent=False, topic=None)
        assert result.outcome is Outcome.sent

    assert sender.session is session
    assert len(push.messages) == 20
    assert push.connections_opened == 1


async def test_invalid_subscription_is_permanent_and_deleted(sender: WebPushSender) -> None:
    broken = {"endpoint": "http://127.0.0.1:9/push/x", "keys": {"p256dh": "AAAA", "auth": "x"}}
    result = await sender.send(broken, PAYLOAD, ttl=60, urgent=True, topic=None)
    assert (result.outcome, result.delete_subscription) == (Outcome.permanent, True)


async def test_bad_topic_and_ttl_are_programming_errors(
    push: PushSandbox, sender: WebPushSender
) -> None:
    subscription = push.new_subscription()
    with pytest.raises(ValueError, match="Topic"):
        await sender.send(subscription, PAYLOAD, ttl=60, urgent=True, topic="notice 7")
    with pytest.raises(ValueError, match="ttl"):
        await sender.send(subscription, PAYLOAD, ttl=-1, urgent=True, topic=None)
    assert push.messages == []


async def test_send_before_start_raises(push: PushSandbox, vapid_private_key: str) -> None:
    idle = WebPushSender(vapid_private_key, SUBJECT)
    with pytest.raises(RuntimeError, match="start"):
        await idle.send(push.new_subscription(), PAYLOAD, ttl=60, urgent=True, topic=None)


async def test_logs_mask_the_endpoint(
    push: PushSandbox, sender: WebPushSender, caplog: pytest.LogCaptureFixture
) -> None:
    subscription = push.new_subscription()
    push.expire(subscription)
    with caplog.at_level(logging.DEBUG, logger="broadcast.push"):
        await sender.send(subscription, PAYLOAD, ttl=60, urgent=True, topic=None)
    assert caplog.records
    token = subscription["endpoint"].rsplit("/", 1)[1]
    assert all(token not in record.getMessage() for record in caplog.records)
    assert mask_endpoint(subscription["endpoint"]) == f"{push.origin}/***"


def test_vapid_key_forms_and_subject() -> None:
    private_raw, public_key = generate_vapid_keys()
    assert WebPushSender(private_raw, SUBJECT).application_server_key == public_key
    with pytest.raises(ValueError, match="subject"):
        WebPushSender(private_raw, "rectorat@example.fr")
    with pytest.raises(ValueError, match="VAPID private key"):
        WebPushSender("not a key", SUBJECT)


def test_pem_private_key_is_accepted() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    assert len(WebPushSender(pem, SUBJECT).application_server_key) == 87


def test_retry_after_as_http_date() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    seconds = parse_retry_after(later)
    assert seconds is not None and 80 < seconds <= 90
    assert parse_retry_after("garbage") is None


async def test_vapid_keys_command_prints_keys_the_sender_accepts(
    push: PushSandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BROADCAST_ENV", "prod")  # works before the service is configured
    monkeypatch.delenv("BROADCAST_SECRET_KEY", raising=False)
    get_settings.cache_clear()
    assert main(["vapid-keys"]) == 0
    lines = capsys.readouterr().out.splitlines()
    private_key = lines[0].split(" : ", 1)[1]
    public_key = lines[1].split(" : ", 1)[1]
    assert "navigateur" in lines[2]

    sender = WebPushSender(private_key, SUBJECT)
    assert sender.application_server_key == public_key
    await sender.start()
    try:
        subscription = push.new_subscription(application_server_key=public_key)
        result = await sender.send(subscription, PAYLOAD, ttl=60, urgent=True, topic=None)
    finally:
        await sender.close()
    assert result.outcome is Outcome.sent


async def test_one_vapid_token_per_push_service_is_reused(sender: WebPushSender) -> None:
    first, second = PushSandbox(), PushSandbox()
    await first.start()
    await second.start()
    try:
        subscriptions = [first.new_subscription(), first.new_subscription()]
        subscriptions.append(second.new_subscription())
        for subscription in subscriptions:
            result = await sender.send(subscription, PAYLOAD, ttl=60, urgent=False, topic=None)
            assert result.outcome is Outcome.sent
    finally:
        await first.stop()
        await second.stop()
    tokens = {
        origin: header.split("t=", 1)[1].split(",", 1)[0]
        for origin, (header, _) in sender._tokens.items()
    }
    assert set(tokens) == {first.origin, second.origin}
    assert len(first.messages) == 2 and len(second.messages) == 1  # both accepted the token
    assert tokens[first.origin] != tokens[second.origin]  # aud differs per push service


async def test_concurrent_sends_are_encrypted_together_and_fail_alone(
    push: PushSandbox, sender: WebPushSender
) -> None:
    good = [push.new_subscription() for _ in range(5)]
    broken = {**push.new_subscription(), "keys": {"p256dh": "AAAA", "auth": "BBBB"}}

    results = await asyncio.gather(
        *(
            sender.send(subscription, PAYLOAD, ttl=60, urgent=False, topic=None)
            for subscription in [*good, broken]
        )
    )

    assert [r.outcome for r in results] == [Outcome.sent] * 5 + [Outcome.permanent]
    assert results[-1].delete_subscription
    assert [len(push.messages_for(s)) for s in good] == [1] * 5

"""The email channel against a real SMTP server (the sandbox sink), through the real client."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from email.message import EmailMessage
from typing import Any

import pytest

from broadcast.channels.base import MessageContent, Outcome, Recipient, SendResult
from broadcast.channels.email.sender import EmailChannel
from broadcast.directory.unsubscribe import unsubscribe_url
from broadcast.ratelimit import RateLimit, RateLimiter
from broadcast.rendering import UNSUBSCRIBE_PLACEHOLDER
from broadcast.sandbox.smtp import SmtpSink
from broadcast.settings import Settings, SmtpRelay


def make_settings(*relays: SmtpRelay, **overrides: Any) -> Settings:
    return Settings(env="dev", smtp_relays=list(relays), _env_file=None, **overrides)


def relay_to(sink: SmtpSink, name: str = "default", connections: int = 2) -> SmtpRelay:
    return SmtpRelay(name=name, host="127.0.0.1", port=sink.port, connections=connections)


def make_content(
    urgent: bool = False, message: str = "Le service est interrompu."
) -> MessageContent:
    return MessageContent(
        notice_id=7,
        notice_title="ENT indisponible",
        notice_status="investigating",
        update_message=message,
        organisation_name="Académie de Lyon",
        urgent=urgent,
        public_url="http://127.0.0.1:8000/status/7",
    )


def make_recipients(count: int, first_id: int = 100) -> list[Recipient]:
    return [
        Recipient(delivery_id=first_id + i, address=f"parent.{i}@example.fr", locale="fr")
        for i in range(count)
    ]


def body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body((subtype,))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def settings(sink: SmtpSink) -> Settings:
    return make_settings(relay_to(sink))


@pytest.fixture
async def channel(settings: Settings) -> AsyncIterator[EmailChannel]:
    email = EmailChannel(settings)
    yield email
    await email.close()


async def send_all(
    channel: EmailChannel, locale: str, content: MessageContent, recipients: list[Recipient]
) -> list[SendResult]:
    prepared = channel.prepare(content, locale)
    return [await channel.send(prepared, recipient) for recipient in recipients]


async def test_one_rendering_reaches_each_recipient_personalised(
    channel: EmailChannel, sink: SmtpSink, settings: Settings
) -> None:
    recipients = make_recipients(3)

    results = await send_all(channel, "fr", make_content(), recipients)

    assert [result.outcome for result in results] == [Outcome.sent] * 3
    received = sink.by_recipient()
    secret = settings.secret_key.get_secret_value()
    for recipient, result in zip(recipients, results, strict=True):
        [captured] = received[recipient.address]
        message = captured.message
        url = unsubscribe_url(settings.public_base_url, secret, recipient.delivery_id)
        assert captured.to == recipient.address
        assert message["Message-ID"] == result.provider_message_id
        assert message["List-Unsubscribe"] == f"<{url}>"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        for subtype in ("plain", "html"):
            assert "Incident en cours d’analyse" in body(message, subtype)
            assert "Le service est interrompu." in body(message, subtype)
            assert url in body(message, subtype)
        assert UNSUBSCRIBE_PLACEHOLDER.encode() not in captured.data
    assert len({result.provider_message_id for result in results}) == 3


async def test_headers_common_to_every_recipient(channel: EmailChannel, sink: SmtpSink) -> None:
    [recipient] = make_recipients(1)

    await send_all(channel, "fr", make_content(), [recipient])

    [captured] = sink.messages
    message = captured.message
    assert captured.subject == "[Académie de Lyon] ENT indisponible"
    assert message["From"].addresses[0].display_name == "Académie - information"
    assert message["From"].addresses[0].addr_spec == "ne-pas-repondre@broadcast.invalid"
    assert message["Date"] is not None
    assert message["MIME-Version"] == "1.0"
    assert message.get_content_type() == "multipart/alternative"
    assert message["Message-ID"].startswith(f"<{recipient.delivery_id}.")
    assert message["Message-ID"].endswith("@broadcast.invalid>")
    assert captured.mail_from == "ne-pas-repondre@broadcast.invalid"


async def test_english_locale_gets_english_text(channel: EmailChannel, sink: SmtpSink) -> None:
    recipients = [Recipient(delivery_id=1, address="parent@example.org", locale="en")]

    await send_all(channel, "en", make_content(), recipients)

    message = sink.messages[0].message
    for subtype in ("plain", "html"):
        assert "Incident under investigation" in body(message, subtype)
        assert "Incident en cours" not in body(message, subtype)


async def test_urgent_message_has_no_unsubscribe(channel: EmailChannel, sink: SmtpSink) -> None:
    results = await send_all(channel, "fr", make_content(urgent=True), make_recipients(2))

    assert [result.outcome for result in results] == [Outcome.sent] * 2
    for captured in sink.messages:
        assert captured.message["List-Unsubscribe"] is None
        assert captured.message["List-Unsubscribe-Post"] is None
        assert b"/u/" not in captured.data
        assert UNSUBSCRIBE_PLACEHOLDER.encode() not in captured.data


async def test_many_sends_share_few_connections(channel: EmailChannel, sink: SmtpSink) -> None:
    prepared = channel.prepare(make_content(), "fr")
    recipients = make_recipients(40)

    results = await asyncio.gather(*(channel.send(prepared, r) for r in recipients))

    assert all(result.outcome is Outcome.sent for result in results)
    assert sink.received == 40
    assert sink.connections_opened == 2


async def test_start_opens_the_pool_ahead_of_sends(channel: EmailChannel, sink: SmtpSink) -> None:
    await channel.start()
    assert sink.connections_opened == 2

    await send_all(channel, "fr", make_content(), make_recipients(5))

    assert sink.connections_opened == 2


async def test_4xx_is_transient(channel: EmailChannel, sink: SmtpSink) -> None:
    [first, second] = make_recipients(2)
    sink.fail_next(451)

    [refused, accepted] = await send_all(channel, "fr", make_content(), [first, second])

    assert refused.outcome is Outcome.transient
    assert refused.suppress is False
    assert refused.error is not None and "451" in refused.error
    assert accepted.outcome is Outcome.sent
    assert sink.connections_opened == 1  # the refusal left the session usable


async def test_5xx_on_recipient_is_a_hard_bounce(channel: EmailChannel, sink: SmtpSink) -> None:
    [recipient] = make_recipients(1)
    sink.reject_address(recipient.address, 550, f"5.1.1 <{recipient.address}> unknown")

    [result] = await send_all(channel, "fr", make_content(), [recipient])

    assert result.outcome is Outcome.permanent
    assert result.suppress is True
    assert result.error is not None and "550" in result.error
    assert recipient.address not in result.error
    assert sink.received == 0


async def test_5xx_on_content_is_permanent_without_suppression(
    channel: EmailChannel, sink: SmtpSink
) -> None:
    sink.fail_next(554, stage="DATA", message="5.7.1 Message refused")

    [result] = await send_all(channel, "fr", make_content(), make_recipients(1))

    assert result.outcome is Outcome.permanent
    assert result.suppress is False
    assert result.error is not None and "554" in result.error


async def test_restarted_relay_is_reconnected(channel: EmailChannel, sink: SmtpSink) -> None:
    prepared = channel.prepare(make_content(), "fr")
    [before, after] = make_recipients(2)
    assert (await channel.send(prepared, before)).outcome is Outcome.sent

    await sink.stop()
    await sink.start()
    result = await channel.send(prepared, after)

    assert result.outcome is Outcome.sent
    assert after.address in sink.by_recipient()


async def test_connection_dropped_by_relay_is_reopened_once(
    channel: EmailChannel, sink: SmtpSink
) -> None:
    prepared = channel.prepare(make_content(), "fr")
    [before, after] = make_recipients(2)
    await channel.send(prepared, before)

    sink.drop_connections()  # the client has not noticed yet when the next send starts
    result = await channel.send(prepared, after)

    assert result.outcome is Outcome.sent
    assert sink.connections_opened == 2
    assert after.address in sink.by_recipient()


async def test_stopped_relay_is_transient(channel: EmailChannel, sink: SmtpSink) -> None:
    prepared = channel.prepare(make_content(), "fr")
    [before, during] = make_recipients(2)
    await channel.send(prepared, before)

    await sink.stop()
    result = await channel.send(prepared, during)

    assert result.outcome is Outcome.transient
    await sink.start()


async def test_refused_connection_is_transient() -> None:
    relay = SmtpRelay(host="127.0.0.1", port=free_port(), connections=1)
    channel = EmailChannel(make_settings(relay))
    [recipient] = make_recipients(1)

    [result] = await send_all(channel, "fr", make_content(), [recipient])

    assert result.outcome is Outcome.transient
    assert result.suppress is False
    assert result.error is not None and "connection" in result.error
    await channel.close()


async def test_slow_relay_times_out_then_recovers(sink: SmtpSink) -> None:
    channel = EmailChannel(make_settings(relay_to(sink), provider_timeout_s=0.2))
    prepared = channel.prepare(make_content(), "fr")
    [slow, fast] = make_recipients(2)

    sink.delay_s = 1.0
    timed_out = await channel.send(prepared, slow)
    sink.delay_s = 0.0
    recovered = await channel.send(prepared, fast)

    assert timed_out.outcome is Outcome.transient
    assert timed_out.error == "timeout"
    assert recovered.outcome is Outcome.sent
    await channel.close()


async def test_sends_spread_round_robin_over_relays(sink: SmtpSink) -> None:
    other = SmtpSink()
    await other.start()
    relays = (relay_to(sink, "a", connections=1), relay_to(other, "b", connections=1))
    channel = EmailChannel(make_settings(*relays))

    await send_all(channel, "fr", make_content(), make_recipients(6))

    assert (sink.received, other.received) == (3, 3)
    await channel.close()
    await other.stop()


async def test_header_injection_is_refused(channel: EmailChannel, sink: SmtpSink) -> None:
    recipient = Recipient(delivery_id=1, address="a@example.fr\r\nBcc: b@example.fr", locale="fr")

    [result] = await send_all(channel, "fr", make_content(), [recipient])

    assert result.outcome is Outcome.permanent
    assert result.error == "invalid address"
    assert sink.received == 0


async def test_very_long_lines_are_wrapped(channel: EmailChannel, sink: SmtpSink) -> None:
    message = " ".join(["Les cours reprendront normalement demain matin."] * 80)

    [result] = await send_all(channel, "fr", make_content(message=message), make_recipients(1))

    assert result.outcome is Outcome.sent
    captured = sink.messages[0]
    assert max(len(line) for line in captured.data.split(b"\r\n")) <= 998
    assert " ".join(body(captured.message, "plain").split()).count("demain matin") == 80


async def test_close_quits_connections(channel: EmailChannel, sink: SmtpSink) -> None:
    await channel.start()

    await channel.close()

    assert sink.connections_opened == 2
    for _ in range(100):  # the sink sees the QUIT a moment later
        if not sink.open_connections:
            break
        await asyncio.sleep(0.01)
    assert sink.open_connections == 0


async def test_each_relay_takes_tokens_from_its_own_account_bucket(
    sink: SmtpSink, redis: Any
) -> None:
    relays = [
        relay_to(sink, "a", connections=3).model_copy(update={"rate": RateLimit(rate=10, burst=5)}),
        relay_to(sink, "b", connections=2),
    ]
    settings = make_settings(*relays, channel_rates={"email": RateLimit(rate=50)})
    channel = EmailChannel(settings, limiter=RateLimiter(redis))
    prepared = channel.prepare(make_content(), "fr")
    try:
        for recipient in make_recipients(4):  # round-robin: a, b, a, b
            assert (await channel.send(prepared, recipient)).outcome == Outcome.sent
    finally:
        await channel.close()

    assert channel.rate_limits() == [("channel:email", RateLimit(rate=50))]
    tokens_left = float(await redis.hget("broadcast:ratelimit:account:smtp:a", "tokens"))
    assert 3 <= tokens_left < 3.5  # two of relay a's five tokens taken, a little refilled
    assert not await redis.exists("broadcast:ratelimit:account:smtp:b")

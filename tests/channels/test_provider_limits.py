"""Each provider declares its limits as class attributes (as apprise's plugins do), and an
account left without a rate is sent at the provider's declared default, said in the log."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, ClassVar

import pytest

from broadcast.channels.base import Channel, MessageContent, Outcome, Recipient, rate_or_default
from broadcast.channels.email.sender import EmailChannel
from broadcast.channels.push.sender import PushChannel
from broadcast.channels.push.webpush import MAX_PAYLOAD_BYTES
from broadcast.channels.sms.sender import SmsChannel
from broadcast.core.logsetup import mask_text
from broadcast.directory.models import PushSubscription
from broadcast.ratelimit import RateLimit, RateLimiter
from broadcast.sandbox.smtp import SmtpSink
from broadcast.settings import Settings, SmtpRelay
from tests.push_support import APPLICATION_SERVER_KEY, running_push, with_push

CONTENT = MessageContent(
    notice_id=3,
    notice_title="ENT indisponible",
    notice_status="investigating",
    update_message="Le service est interrompu.",
    organisation_name="Académie de Lyon",
    urgent=False,
)


def relay(sink: SmtpSink, name: str, rate: RateLimit | None = None) -> SmtpRelay:
    return SmtpRelay(name=name, host="127.0.0.1", port=sink.port, connections=1, rate=rate)


def email_settings(*relays: SmtpRelay) -> Settings:
    return Settings(env="dev", smtp_relays=list(relays), _env_file=None)  # type: ignore[call-arg]


class PacedEmail(EmailChannel):
    default_rate: ClassVar[RateLimit | None] = RateLimit(rate=10, burst=3)


class TinyEmail(EmailChannel):
    max_message_bytes: ClassVar[int] = 1000


class SmallPush(PushChannel):
    max_payload_bytes: ClassVar[int] = 400


@pytest.mark.parametrize("channel", [EmailChannel, SmsChannel, PushChannel])
def test_each_channel_declares_its_default_rate_itself(channel: type[Channel]) -> None:
    assert "default_rate" in vars(channel), f"{channel.__name__} must choose its default rate"


def test_the_providers_body_limits_are_declared() -> None:
    assert SmsChannel.max_body_chars == 1600
    assert PushChannel.max_payload_bytes == MAX_PAYLOAD_BYTES == 3000
    assert EmailChannel.max_message_bytes == 10 * 1024 * 1024


def test_an_account_without_a_rate_is_said_in_the_log(
    sink: SmtpSink, caplog: pytest.LogCaptureFixture
) -> None:
    settings = email_settings(relay(sink, "paced", RateLimit(rate=5)), relay(sink, "free"))
    with caplog.at_level(logging.INFO, logger="broadcast.channels"):
        EmailChannel(settings)

    said = [r.getMessage() for r in caplog.records if "no rate configured" in r.getMessage()]
    expected = (
        f"email relay free (127.0.0.1:{sink.port}): no rate configured: "
        "using the provider default (unlimited)"
    )
    assert said == [expected]
    assert mask_text(expected) == expected  # the relay's name and host are diagnostics


def test_a_configured_rate_wins_over_the_default(caplog: pytest.LogCaptureFixture) -> None:
    configured = RateLimit(rate=2, burst=2)
    with caplog.at_level(logging.INFO, logger="broadcast.channels"):
        assert rate_or_default(PacedEmail, configured, "smtp://a") == configured
        assert rate_or_default(PacedEmail, None, "smtp://b") == RateLimit(rate=10, burst=3)
    assert [r.getMessage() for r in caplog.records] == [
        "email smtp://b: no rate configured: using the provider default (10/s, burst 3)"
    ]


async def test_a_declared_default_rate_paces_an_account_without_one(
    sink: SmtpSink, redis: Any
) -> None:
    channel = PacedEmail(email_settings(relay(sink, "free")), limiter=RateLimiter(redis))
    prepared = channel.prepare(CONTENT, "fr")
    try:
        for n in range(2):
            recipient = Recipient(n, f"parent.{n}@example.fr", "fr")
            assert (await channel.send(prepared, recipient)).outcome == Outcome.sent
    finally:
        await channel.close()

    tokens_left = float(await redis.hget("broadcast:ratelimit:account:smtp:free", "tokens"))
    assert 1 <= tokens_left < 2  # two of the default's three tokens taken, a little refilled


async def test_a_message_larger_than_the_relays_accept_is_refused_before_the_relay(
    sink: SmtpSink,
) -> None:
    channel = TinyEmail(email_settings(relay(sink, "default")))
    prepared = channel.prepare(CONTENT, "fr")
    try:
        result = await channel.send(prepared, Recipient(9, "parent@example.fr", "fr"))
    finally:
        await channel.close()

    assert result.outcome == Outcome.permanent and not result.suppress
    assert (result.error or "").startswith("message trop volumineux (")
    assert sink.messages == []


async def test_the_push_channel_fits_its_payload_to_its_declared_limit() -> None:
    settings = with_push(Settings(env="dev", _env_file=None))  # type: ignore[call-arg]
    long_content = replace(CONTENT, update_message="Le collège reste fermé demain. " * 40)
    async with running_push() as push:
        browser = push.new_subscription(application_server_key=APPLICATION_SERVER_KEY)
        keys = browser["keys"]
        target = PushSubscription(
            contact_id=1, endpoint=browser["endpoint"], p256dh=keys["p256dh"], auth=keys["auth"]
        )
        channel = SmallPush(settings)
        await channel.start()
        try:
            prepared = channel.prepare(long_content, "fr")
            result = await channel.send(prepared, Recipient(1, "1", "fr", target))
        finally:
            await channel.close()
        [message] = push.messages

    assert result.outcome == Outcome.sent
    assert len(message.payload) <= 400 < len(long_content.update_message)
    assert message.data["body"].endswith("…")


async def test_a_push_services_retry_after_reaches_the_send_result() -> None:
    settings = with_push(Settings(env="dev", _env_file=None))  # type: ignore[call-arg]
    async with running_push() as push:
        browser = push.new_subscription(application_server_key=APPLICATION_SERVER_KEY)
        keys = browser["keys"]
        target = PushSubscription(
            contact_id=1, endpoint=browser["endpoint"], p256dh=keys["p256dh"], auth=keys["auth"]
        )
        channel = PushChannel(settings)
        await channel.start()
        try:
            push.answer_next(429, retry_after="4")
            result = await channel.send(
                channel.prepare(CONTENT, "fr"), Recipient(1, "1", "fr", target)
            )
        finally:
            await channel.close()
    assert (result.outcome, result.retry_after_s) == (Outcome.transient, 4)

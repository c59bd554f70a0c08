"""The SMS channel against the Twilio sandbox, through twilio's real async client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from twilio.base.exceptions import TwilioRestException

from broadcast.channels.base import MessageContent, Outcome, Recipient
from broadcast.channels.health import CREDENTIALS_REFUSED
from broadcast.channels.sms.errors import UNCERTAIN, failure_result, is_ambiguous
from broadcast.channels.sms.sender import SmsChannel
from broadcast.sandbox.twilio import TwilioSandbox
from broadcast.settings import Settings
from tests.sms_support import STOP_NUMBER, account, running_sandbox

CONTENT = MessageContent(
    notice_id=1,
    notice_title="ENT indisponible",
    notice_status="open",
    update_message="Les cours ont lieu normalement.",
    organisation_name="Collège Pasteur",
    urgent=True,
)


@pytest.fixture
async def sandbox() -> AsyncIterator[TwilioSandbox]:
    async with running_sandbox() as server:
        yield server


def channel_for(sandbox: TwilioSandbox, **overrides: object) -> SmsChannel:
    settings = Settings(
        env="dev",
        public_base_url="https://broadcast.test",
        twilio_accounts=[account(sandbox, **overrides)],
        provider_timeout_s=0.5,
        _env_file=None,  # type: ignore[call-arg]
    )
    return SmsChannel(settings)


@pytest.fixture
async def channel(sandbox: TwilioSandbox) -> AsyncIterator[SmsChannel]:
    sandbox.hold_callbacks = True
    sms = channel_for(sandbox)
    await sms.start()
    yield sms
    await sms.close()


async def test_sends_the_rendered_text_once_and_returns_the_sid(
    channel: SmsChannel, sandbox: TwilioSandbox
) -> None:
    prepared = channel.prepare(CONTENT, "fr")
    result = await channel.send(prepared, Recipient(7, "+33612345678", "fr"))

    assert result.outcome == Outcome.sent
    [message] = sandbox.messages
    assert result.provider_message_id == message.sid and message.sid.startswith("SM")
    assert message.to == "+33612345678" and message.sender == "Rectorat"
    assert (
        message.body == f"[Collège Pasteur] Les cours ont lieu normalement. STOP au {STOP_NUMBER}"
    )
    assert message.status_callback == "https://broadcast.test/providers/twilio/status"


async def test_no_stop_line_without_a_two_way_number(sandbox: TwilioSandbox) -> None:
    prepared = channel_for(sandbox, two_way_number=None).prepare(CONTENT, "en")
    assert prepared.parts["text"] == "[Collège Pasteur] Les cours ont lieu normalement."


@pytest.mark.parametrize(
    ("status", "code", "outcome", "suppress"),
    [
        (429, 20429, Outcome.transient, False),
        (500, 20500, Outcome.transient, False),
        (400, 21211, Outcome.permanent, True),
        (400, 21610, Outcome.permanent, True),
        (400, 21408, Outcome.permanent, False),
    ],
)
async def test_twilio_errors_are_classified(
    channel: SmsChannel,
    sandbox: TwilioSandbox,
    status: int,
    code: int,
    outcome: Outcome,
    suppress: bool,
) -> None:
    sandbox.fail_next(status, code)
    result = await channel.send(channel.prepare(CONTENT, "fr"), Recipient(1, "+33612345678", "fr"))
    assert (result.outcome, result.suppress) == (outcome, suppress)
    assert str(code) in (result.error or "")
    assert sandbox.messages == []


async def test_a_body_twilio_refuses_as_too_long_is_a_permanent_failure(
    channel: SmsChannel, sandbox: TwilioSandbox
) -> None:
    """The sandbox answers 400 / 21617 as Twilio does; the number stays usable."""
    long_update = replace(CONTENT, update_message="Les cours ont lieu normalement. " * 60)
    result = await channel.send(
        channel.prepare(long_update, "fr"), Recipient(1, "+33612345678", "fr")
    )
    assert (result.outcome, result.suppress) == (Outcome.permanent, False)
    assert "21617" in (result.error or "")
    assert sandbox.messages == []


async def test_wrong_credentials_hold_the_sms_and_pause_the_account(
    sandbox: TwilioSandbox,
) -> None:
    sms = channel_for(sandbox, auth_token="not-the-token")
    await sms.start()
    try:
        first = await sms.send(sms.prepare(CONTENT, "fr"), Recipient(1, "+33612345678", "fr"))
        second = await sms.send(sms.prepare(CONTENT, "fr"), Recipient(2, "+33612345679", "fr"))
    finally:
        await sms.close()
    assert first.outcome == Outcome.transient and "401" in (first.error or "")
    assert first.held == CREDENTIALS_REFUSED and first.alert is not None
    # paused: the next SMS waits without asking Twilio again
    assert second.outcome == Outcome.transient and second.error == CREDENTIALS_REFUSED
    assert second.alert is None


async def test_refused_connection_is_transient_timeout_is_uncertain(
    sandbox: TwilioSandbox,
) -> None:
    sms = channel_for(sandbox)
    await sms.start()
    prepared = sms.prepare(CONTENT, "fr")
    try:
        sandbox.delay_s = 2.0
        slow = await sms.send(prepared, Recipient(1, "+33612345678", "fr"))
        sandbox.delay_s = 0.0
        await sandbox.stop()
        refused = await sms.send(prepared, Recipient(2, "+33612345678", "fr"))
    finally:
        await sms.close()
    # A timeout may have created the message and the listing is as slow, so reconciling cannot
    # tell: never retried, never suppressed (RULES D5).
    assert (slow.outcome, slow.suppress, slow.error) == (
        Outcome.permanent,
        False,
        f"{UNCERTAIN} (TimeoutError)",
    )
    assert refused.outcome == Outcome.transient


def test_unknown_exceptions_are_uncertain_not_retried() -> None:
    assert failure_result(1, RuntimeError("boom")).outcome == Outcome.permanent
    assert is_ambiguous(RuntimeError("boom"))  # reconciled before it is settled
    error = TwilioRestException(400, "uri", "The 'To' number +33612345678 is invalid", 21211)
    result = failure_result(1, error)
    assert result.suppress and "+33612345678" not in (result.error or "")
    assert not is_ambiguous(error)


@pytest.mark.parametrize(("status", "code"), [(429, 20429), (503, 20503)])
async def test_twilios_retry_after_is_carried_to_the_dispatcher(
    channel: SmsChannel, sandbox: TwilioSandbox, status: int, code: int
) -> None:
    """twilio's exception drops the headers: the client notes ``Retry-After`` as it answers."""
    sandbox.fail_next(status, code, retry_after="7")
    refused = await channel.send(channel.prepare(CONTENT, "fr"), Recipient(1, "+33612345678", "fr"))
    sandbox.fail_next(status, code)
    bare = await channel.send(channel.prepare(CONTENT, "fr"), Recipient(2, "+33612345678", "fr"))
    assert (refused.outcome, refused.retry_after_s) == (Outcome.transient, 7)
    assert (bare.outcome, bare.retry_after_s) == (Outcome.transient, None)

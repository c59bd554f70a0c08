"""A create left without an answer is reconciled before anything else (RULES D4, D5): through
twilio's real async client against the sandbox, which can lose a create before or after
recording the message, and fail the listing."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from broadcast.channels.base import MessageContent, Outcome, Prepared, Recipient
from broadcast.channels.sms.errors import UNCERTAIN
from broadcast.channels.sms.reconcile import (
    LISTING_TRIES,
    RECONCILE_LIMIT,
    Unreconciled,
    find_created,
)
from broadcast.channels.sms.sender import SmsChannel
from broadcast.sandbox.twilio import TwilioSandbox
from broadcast.settings import Settings
from tests.sms_support import account, running_sandbox

TIMEOUT_S = 0.3
NUMBER = "+33612345678"
SERVICE = "MG" + "a" * 32
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
        server.hold_callbacks = True
        yield server


async def open_channel(sandbox: TwilioSandbox, **overrides: object) -> SmsChannel:
    settings = Settings(
        env="dev",
        public_base_url="https://broadcast.test",
        twilio_accounts=[account(sandbox, **overrides)],
        provider_timeout_s=TIMEOUT_S,
        _env_file=None,  # type: ignore[call-arg]
    )
    channel = SmsChannel(settings)
    await channel.start()
    return channel


@pytest.fixture
async def channel(sandbox: TwilioSandbox) -> AsyncIterator[SmsChannel]:
    sms = await open_channel(sandbox)
    yield sms
    await sms.close()


def prepared(channel: SmsChannel) -> Prepared:
    return channel.prepare(CONTENT, "fr")


@pytest.mark.parametrize("stall_s", [TIMEOUT_S * 3, 0.0], ids=["timeout", "dropped"])
async def test_created_without_an_answer_is_sent_with_the_sandbox_sid(
    channel: SmsChannel,
    sandbox: TwilioSandbox,
    stall_s: float,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sandbox.lose_next("after_create", stall_s=stall_s)
    with caplog.at_level(logging.INFO, logger="broadcast.channels.sms"):
        result = await channel.send(prepared(channel), Recipient(7, NUMBER, "fr"))

    [message] = sandbox.messages  # no second create
    assert (result.outcome, result.provider_message_id) == (Outcome.sent, message.sid)
    assert [(q["To"], q.get("From")) for q in sandbox.lists] == [(NUMBER, "Rectorat")]
    assert NUMBER not in caplog.text and "reconciled, created as" in caplog.text


async def test_dropped_before_create_is_transient_and_the_retry_sends_once(
    channel: SmsChannel, sandbox: TwilioSandbox
) -> None:
    sandbox.lose_next("before_create")
    first = await channel.send(prepared(channel), Recipient(7, NUMBER, "fr"))
    assert (first.outcome, first.suppress) == (Outcome.transient, False)
    assert sandbox.messages == [] and len(sandbox.lists) == 1

    retry = await channel.send(prepared(channel), Recipient(7, NUMBER, "fr"))
    [message] = sandbox.messages
    assert (retry.outcome, retry.provider_message_id) == (Outcome.sent, message.sid)


async def test_an_older_identical_message_or_another_text_is_not_ours(
    channel: SmsChannel, sandbox: TwilioSandbox
) -> None:
    text = prepared(channel)
    await channel.send(Prepared("fr", {"text": "Autre texte"}), Recipient(1, NUMBER, "fr"))
    await channel.send(text, Recipient(2, NUMBER, "fr"))
    sandbox.messages[-1].received_at -= timedelta(minutes=10)  # sent long before this attempt
    sandbox.lose_next("before_create")
    result = await channel.send(text, Recipient(3, NUMBER, "fr"))
    assert result.outcome == Outcome.transient and len(sandbox.messages) == 2


@pytest.mark.parametrize("list_status", [500, 401])
async def test_a_failed_reconciliation_stays_uncertain_and_sends_nothing_twice(
    channel: SmsChannel, sandbox: TwilioSandbox, list_status: int
) -> None:
    sandbox.lose_next("after_create", stall_s=TIMEOUT_S * 3)
    sandbox.fail_next_list(list_status, times=LISTING_TRIES)  # a 500 is tried again
    result = await channel.send(prepared(channel), Recipient(7, NUMBER, "fr"))
    assert (result.outcome, result.suppress, result.provider_message_id) == (
        Outcome.permanent,
        False,
        None,
    )
    assert result.error == f"{UNCERTAIN} (TimeoutError)"
    assert len(sandbox.messages) == 1


async def test_a_slow_reconciliation_is_cut_by_the_timeout_and_stays_uncertain(
    channel: SmsChannel, sandbox: TwilioSandbox
) -> None:
    sandbox.lose_next("after_create")
    sandbox.list_delay_s = TIMEOUT_S * 3
    result = await channel.send(prepared(channel), Recipient(7, NUMBER, "fr"))
    assert result.outcome == Outcome.permanent and (result.error or "").startswith(UNCERTAIN)
    assert len(sandbox.messages) == 1


async def test_two_identical_recent_messages_are_ambiguous(
    channel: SmsChannel, sandbox: TwilioSandbox
) -> None:
    text = prepared(channel)
    await channel.send(text, Recipient(1, NUMBER, "fr"))  # another delivery, same text
    sandbox.lose_next("after_create")
    result = await channel.send(text, Recipient(2, NUMBER, "fr"))
    assert result.outcome == Outcome.permanent and (result.error or "").startswith(UNCERTAIN)
    assert len(sandbox.messages) == 2


async def test_a_messaging_service_account_reconciles_by_its_service(
    sandbox: TwilioSandbox,
) -> None:
    sms = await open_channel(sandbox, sender_id=None, messaging_service_sid=SERVICE)
    try:
        sandbox.lose_next("after_create")
        result = await sms.send(prepared(sms), Recipient(7, NUMBER, "fr"))
    finally:
        await sms.close()
    [message] = sandbox.messages
    assert (result.outcome, result.provider_message_id) == (Outcome.sent, message.sid)
    assert [q.get("From") for q in sandbox.lists] == [None]


NOW = datetime(2026, 11, 28, 23, 0, tzinfo=UTC)


def listed(body: str, minutes_ago: float, sid: str = "SM1", sender: str = "R") -> SimpleNamespace:
    return SimpleNamespace(
        sid=sid, body=body, from_=sender, date_created=NOW - timedelta(minutes=minutes_ago)
    )


def ours(message: SimpleNamespace) -> bool:
    return bool(message.from_ == "R")


def test_find_created_decides_only_on_a_complete_listing() -> None:
    since = NOW - timedelta(minutes=2)
    assert find_created([], "B", since, ours) is Unreconciled.NOT_CREATED
    assert find_created([listed("B", 1, "SMx")], "B", since, ours) == "SMx"
    assert find_created([listed("B", 3)], "B", since, ours) is Unreconciled.NOT_CREATED
    assert find_created([listed("B", 1, sender="X")], "B", since, ours) is (
        Unreconciled.NOT_CREATED
    )
    two = [listed("B", 1, "SMa"), listed("B", 1.5, "SMb")]
    assert find_created(two, "B", since, ours) is Unreconciled.UNKNOWN
    full_and_recent = [listed("A", 1)] * RECONCILE_LIMIT
    assert find_created(full_and_recent, "B", since, ours) is Unreconciled.UNKNOWN
    full_reaching_back = [listed("A", 1)] * (RECONCILE_LIMIT - 1) + [listed("A", 5)]
    assert find_created(full_reaching_back, "B", since, ours) is Unreconciled.NOT_CREATED
    undated = [SimpleNamespace(sid="SM1", body="B", from_="R", date_created=None)]
    assert find_created(undated, "B", since, ours) is Unreconciled.UNKNOWN


async def test_a_listing_refused_by_an_outage_is_tried_again_until_twilio_answers(
    channel: SmsChannel, sandbox: TwilioSandbox
) -> None:
    """Twilio's API down (503) while the create is reconciled, then up: not "incertain"."""
    sandbox.lose_next("after_create", stall_s=TIMEOUT_S * 3)
    sandbox.fail_next_list(503, times=2)
    result = await channel.send(prepared(channel), Recipient(7, NUMBER, "fr"))
    [message] = sandbox.messages
    assert (result.outcome, result.provider_message_id) == (Outcome.sent, message.sid)
    assert len(sandbox.lists) == 1

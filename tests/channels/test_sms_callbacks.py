"""Twilio's callbacks parsed into the provider-neutral shapes the ledger and the directory apply:
the status and error mapping is data (RULES S2), STOP and START words are RULES S3."""

from __future__ import annotations

import pytest

from broadcast.channels.base import ChannelName, OptOut, ProviderStatus
from broadcast.channels.sms.callbacks import STOP_WORDS, parse_reply, parse_status
from broadcast.deliveries.models import DeliveryStatus

SID = "SM" + "a" * 32
NUMBER = "+33612345678"


@pytest.mark.parametrize(
    ("twilio_status", "status"),
    [
        ("queued", DeliveryStatus.sending),
        ("sending", DeliveryStatus.sending),
        ("sent", DeliveryStatus.sent),
        ("delivered", DeliveryStatus.delivered),
        ("undelivered", DeliveryStatus.failed),
        ("failed", DeliveryStatus.failed),
        ("canceled", DeliveryStatus.cancelled),
        ("Delivered", DeliveryStatus.delivered),
    ],
)
def test_each_twilio_status_maps_onto_a_delivery_status(
    twilio_status: str, status: DeliveryStatus
) -> None:
    params = {"MessageSid": SID, "MessageStatus": twilio_status}
    assert parse_status(params) == ProviderStatus(SID, status)


@pytest.mark.parametrize(
    ("code", "suppress_reason", "moves"),
    [
        ("30003", None, False),  # unreachable handset: left as it is, a later send retries
        ("30005", "invalid_number", True),
        ("30006", "invalid_number", True),
        ("30007", None, True),  # carrier filtering: failed, not retried
        ("21610", "stop", True),
        ("30008", None, True),  # any other error: failed with its code
    ],
)
def test_an_error_code_adds_what_its_rule_says(
    code: str, suppress_reason: str | None, moves: bool
) -> None:
    params = {"MessageSid": SID, "MessageStatus": "undelivered", "ErrorCode": code}
    assert parse_status(params) == ProviderStatus(
        SID, DeliveryStatus.failed, f"twilio {code}", suppress_reason, moves
    )


def test_a_callback_without_a_sid_or_a_known_status_says_nothing() -> None:
    assert parse_status({"MessageStatus": "delivered"}) is None
    assert parse_status({"MessageSid": SID, "MessageStatus": "receiving"}) is None
    assert parse_status({"MessageSid": SID}) is None


@pytest.mark.parametrize("word", sorted(STOP_WORDS))
def test_every_stop_word_opts_the_sender_out(word: str) -> None:
    reply = parse_reply({"From": NUMBER, "Body": f"  {word.lower()} "})
    assert reply == OptOut(ChannelName.sms, NUMBER, stop=True)


def test_start_and_unstop_opt_back_in_and_other_text_is_nothing() -> None:
    for word in ("START", "unstop"):
        assert parse_reply({"From": NUMBER, "Body": word}) == OptOut(ChannelName.sms, NUMBER, False)
    assert parse_reply({"From": NUMBER, "Body": "Merci pour l'information"}) is None
    assert parse_reply({"From": "", "Body": "STOP"}) is None

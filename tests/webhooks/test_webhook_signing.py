"""Standard Webhooks signatures (RULES W1, W4), checked against the ``standardwebhooks`` package."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from broadcast.webhooks import signing
from broadcast.webhooks.signing import InvalidWebhookSignature

BODY = json.dumps({"type": "notice.updated", "data": {"id": 7, "titre": "ENT arrêté"}}).encode()


def now() -> datetime:
    return datetime.now(UTC)


def rejection(secret: str, headers: dict[str, str], body: bytes = BODY) -> str:
    """The French message of the refusal (the one shown to operators)."""
    with pytest.raises(InvalidWebhookSignature) as caught:
        signing.verify(secret, headers, body, now=now())
    return caught.value.message_fr


def test_new_secret_has_prefix_and_enough_random_bytes() -> None:
    secret = signing.new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24
    assert signing.new_secret() != secret


def test_standardwebhooks_accepts_what_we_sign() -> None:
    secret = signing.new_secret()
    sent = signing.headers(secret, "msg_1", int(now().timestamp()), BODY)
    assert set(sent) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert sent["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(BODY, sent) == json.loads(BODY)


def test_signature_matches_the_reference_for_a_fixed_timestamp() -> None:
    secret = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789").decode()
    when = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    reference = Webhook(secret).sign("msg_2", when, BODY.decode())
    assert signing.sign(secret, "msg_2", int(when.timestamp()), BODY) == reference


def test_we_accept_what_standardwebhooks_signs() -> None:
    secret = signing.new_secret()
    when = now()
    received = {
        "Webhook-Id": "msg_3",
        "Webhook-Timestamp": str(int(when.timestamp())),
        "Webhook-Signature": Webhook(secret).sign("msg_3", when, BODY.decode()),
    }
    signing.verify(secret, received, BODY, now=when)


def test_one_valid_signature_among_several_is_enough() -> None:
    old, current = signing.new_secret(), signing.new_secret()
    sent = signing.headers(current, "msg_4", int(now().timestamp()), BODY)
    stale = signing.sign(old, "msg_4", int(now().timestamp()), BODY)
    sent["webhook-signature"] = f"v2,abc {stale} {sent['webhook-signature']}"
    signing.verify(current, sent, BODY, now=now())


def test_tampered_body_is_rejected() -> None:
    secret = signing.new_secret()
    sent = signing.headers(secret, "msg_5", int(now().timestamp()), BODY)
    assert "Signature du webhook invalide" in rejection(secret, sent, BODY.replace(b"7", b"8"))


def test_wrong_secret_is_rejected() -> None:
    sent = signing.headers(signing.new_secret(), "msg_6", int(now().timestamp()), BODY)
    assert "ne correspondent pas" in rejection(signing.new_secret(), sent)


def test_changed_id_is_rejected() -> None:
    secret = signing.new_secret()
    sent = signing.headers(secret, "msg_7", int(now().timestamp()), BODY)
    sent["webhook-id"] = "msg_8"
    assert "invalide" in rejection(secret, sent)


@pytest.mark.parametrize(
    ("offset", "message"),
    [(timedelta(minutes=-6), "trop ancien"), (timedelta(minutes=6), "dans le futur")],
)
def test_timestamp_more_than_five_minutes_off_is_rejected(offset: timedelta, message: str) -> None:
    secret = signing.new_secret()
    when = now() + offset
    received = {
        "webhook-id": "msg_9",
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": Webhook(secret).sign("msg_9", when, BODY.decode()),
    }
    assert message in rejection(secret, received)


def test_timestamp_within_five_minutes_is_accepted() -> None:
    secret = signing.new_secret()
    sent = signing.headers(secret, "msg_10", int(now().timestamp()) - 290, BODY)
    signing.verify(secret, sent, BODY, now=now())


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_rejected(missing: str) -> None:
    secret = signing.new_secret()
    sent = signing.headers(secret, "msg_11", int(now().timestamp()), BODY)
    del sent[missing]
    assert "manquants" in rejection(secret, sent)


def test_garbage_timestamp_is_rejected() -> None:
    secret = signing.new_secret()
    sent = signing.headers(secret, "msg_12", int(now().timestamp()), BODY)
    sent["webhook-timestamp"] = "demain"
    assert "illisible" in rejection(secret, sent)


def test_error_carries_a_401_status() -> None:
    assert InvalidWebhookSignature.status_code == 401

"""Standard Webhooks signatures (RULES W1) and their verification for inbound webhooks (RULES W4).

A signature is ``v1,`` followed by the base64 HMAC-SHA256, keyed by the endpoint secret, of
``{webhook-id}.{webhook-timestamp}.{body}``. The secret is ``whsec_`` plus the base64 key. What we
sign is checked in the tests by the ``standardwebhooks`` package, and what it signs we accept.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from datetime import datetime

from broadcast.core.errors import DomainError

SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret
SECRET_BYTES = 32
SIGNATURE_VERSION = "v1"
DEFAULT_TOLERANCE_S = 300
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
"""Seconds since 1970 in ASCII digits: twelve reach year 33658."""
_MESSAGE_ID = re.compile(r"[\x21-\x7e]{1,256}")


class InvalidWebhookSignature(DomainError):
    """An inbound webhook whose headers, signature or timestamp do not check out."""

    status_code = 401
    code = "invalid_webhook_signature"
    message_fr = "Signature du webhook invalide."
    message_en = "Invalid webhook signature."


def new_secret() -> str:
    """A fresh endpoint secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key inside ``whsec_...`` (the prefix is optional, as in ``standardwebhooks``)."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error as exc:
        raise ValueError("webhook secret is not valid base64 after 'whsec_'") from exc
    if not key:
        raise ValueError("webhook secret is empty")
    return key


def _digest(key: bytes, msg_id: str, timestamp: int, body: bytes) -> bytes:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return hmac.new(key, signed, hashlib.sha256).digest()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256(key, "{msg_id}.{timestamp}." + body)>``."""
    digest = _digest(secret_key(secret), msg_id, timestamp, body)
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers for one request."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> None:
    """Raise :class:`InvalidWebhookSignature` unless ``body`` was signed with ``secret`` recently.

    ``headers`` may use any case. Several space-separated signatures are allowed (secret
    rotation); one valid ``v1`` signature is enough. De-duplicating ``webhook-id`` is the
    caller's job (it needs storage).
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = lowered.get("webhook-id", "")
    raw_timestamp = lowered.get("webhook-timestamp", "")
    signatures = lowered.get("webhook-signature", "")
    if not (msg_id and raw_timestamp and signatures):
        raise InvalidWebhookSignature(
            "En-têtes webhook-id, webhook-timestamp ou webhook-signature manquants.",
            "Missing webhook-id, webhook-timestamp or webhook-signature header.",
        )
    if not _MESSAGE_ID.fullmatch(msg_id):
        raise InvalidWebhookSignature(
            "En-tête webhook-id illisible : 1 à 256 caractères ASCII visibles attendus.",
            "Unreadable webhook-id: 1 to 256 visible ASCII characters expected.",
        )
    timestamp = _checked_timestamp(raw_timestamp, now=now, tolerance_s=tolerance_s)
    expected = _digest(secret_key(secret), msg_id, timestamp, body)
    if not any(hmac.compare_digest(expected, given) for given in _v1_signatures(signatures)):
        raise InvalidWebhookSignature(
            "Signature du webhook invalide : le corps ou le secret ne correspondent pas.",
            "Invalid webhook signature: the body or the secret does not match.",
        )


def _checked_timestamp(raw: str, *, now: datetime, tolerance_s: int) -> int:
    if not _TIMESTAMP.fullmatch(raw):
        raise InvalidWebhookSignature(
            "Horodatage webhook-timestamp illisible.", "Unreadable webhook-timestamp."
        )
    timestamp = int(raw)
    drift = timestamp - now.timestamp()
    if drift < -tolerance_s:
        raise InvalidWebhookSignature(
            f"Webhook trop ancien : horodatage décalé de plus de {tolerance_s} s.",
            f"Webhook too old: timestamp more than {tolerance_s} s in the past.",
        )
    if drift > tolerance_s:
        raise InvalidWebhookSignature(
            f"Webhook daté dans le futur : horodatage décalé de plus de {tolerance_s} s.",
            f"Webhook from the future: timestamp more than {tolerance_s} s ahead.",
        )
    return timestamp


def _v1_signatures(header: str) -> list[bytes]:
    decoded = []
    for versioned in header.split():
        version, _, encoded = versioned.partition(",")
        if version != SIGNATURE_VERSION:
            continue
        try:
            decoded.append(base64.b64decode(encoded, validate=True))
        except ValueError:  # binascii.Error, or characters outside ASCII
            continue
    return decoded

"""What Twilio tells us after a send: status callbacks and inbound SMS, parsed (RULES S1-S3).

Where Twilio calls (:data:`STATUS_CALLBACK_PATH`, :data:`INBOUND_PATH`), how a request is proved
to come from Twilio (:func:`twilio_account_for`), and what the parameters mean, as data (S2):
:data:`TWILIO_STATUSES` maps a ``MessageStatus`` onto a delivery status and
:data:`TWILIO_ERRORS` says what an ``ErrorCode`` adds. :func:`parse_status` turns a callback into
the provider-neutral :class:`ProviderStatus` that :mod:`broadcast.deliveries.provider_status`
applies to the ledger; :func:`parse_reply` turns an inbound SMS into an :class:`OptOut`.

Error 30003 (handset unreachable) is "retried later" by leaving the delivery as it was: it stays
``sent`` and the next broadcast reaches the number again; it is neither failed nor suppressed.
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from broadcast.channels.base import ChannelName, OptOut, ProviderStatus
from broadcast.deliveries.models import DeliveryStatus
from broadcast.settings import Settings, TwilioAccount

STATUS_CALLBACK_PATH = "/providers/twilio/status"
INBOUND_PATH = "/providers/twilio/inbound"

TWILIO_STATUSES: Mapping[str, DeliveryStatus] = {
    "accepted": DeliveryStatus.sending,
    "scheduled": DeliveryStatus.sending,
    "queued": DeliveryStatus.sending,
    "sending": DeliveryStatus.sending,
    "sent": DeliveryStatus.sent,
    "delivered": DeliveryStatus.delivered,
    "undelivered": DeliveryStatus.failed,
    "failed": DeliveryStatus.failed,
    "canceled": DeliveryStatus.cancelled,
}


@dataclass(frozen=True, slots=True)
class ErrorRule:
    keep_status: bool = False
    """Leave the delivery as it is (the error is recorded on nothing): retried by a later send."""
    suppress_reason: str | None = None
    """Suppress the number with this reason."""


TWILIO_ERRORS: Mapping[int, ErrorRule] = {
    30003: ErrorRule(keep_status=True),  # unreachable handset: try again another time
    30005: ErrorRule(suppress_reason="invalid_number"),  # unknown or inactive number
    30006: ErrorRule(suppress_reason="invalid_number"),  # landline or unreachable carrier
    30007: ErrorRule(),  # carrier filtering: failed, never retried
    21610: ErrorRule(suppress_reason="stop"),  # the recipient replied STOP
}

STOP_WORDS = frozenset(
    {
        "STOP",
        "STOPALL",
        "ARRET",
        "ARRÊT",
        "UNSUBSCRIBE",
        "END",
        "QUIT",
        "CANCEL",
        "OPTOUT",
        "REVOKE",
    }
)
START_WORDS = frozenset({"START", "UNSTOP"})


def twilio_account_for(
    settings: Settings, url: str, params: Mapping[str, str], signature: str
) -> TwilioAccount | None:
    """The account whose auth token signed this request (RULES S1), or None: refuse it.

    The signature is first computed over ``url`` as it is, which is how Twilio signs the
    callback URL we gave it: one HMAC for a genuine callback. Only a mismatch goes through
    :meth:`RequestValidator.validate`, which also tries the URL with and without its port."""
    for account in settings.twilio_accounts:
        if params.get("AccountSid") not in (None, account.account_sid):
            continue
        validator = _validator(account.auth_token.get_secret_value())
        expected = validator.compute_signature(url, params)
        given = signature.encode("utf-8", "replace")
        if hmac.compare_digest(expected.encode(), given) or validator.validate(
            url, dict(params), signature
        ):
            return account
    return None


@functools.lru_cache(maxsize=16)
def _validator(auth_token: str) -> RequestValidator:
    return RequestValidator(auth_token)


def parse_status(params: Mapping[str, str]) -> ProviderStatus | None:
    """What one status callback says, or None when it names no message or no known status."""
    sid = params.get("MessageSid", "")
    status = TWILIO_STATUSES.get(params.get("MessageStatus", "").lower())
    if not sid or status is None:
        return None
    code = params.get("ErrorCode") or None
    rule = _error_rule(code)
    return ProviderStatus(
        provider_message_id=sid,
        status=status,
        error=f"twilio {code}" if code else None,
        suppress_reason=rule.suppress_reason,
        moves=not rule.keep_status,
    )


def parse_reply(params: Mapping[str, str]) -> OptOut | None:
    """A STOP word opts the sender's number out, a START word back in (RULES S3); any other
    text, or no sender, is None."""
    word = params.get("Body", "").strip().upper()
    number = params.get("From", "").strip()
    if not number:
        return None
    if word in STOP_WORDS:
        return OptOut(ChannelName.sms, number, stop=True)
    if word in START_WORDS:
        return OptOut(ChannelName.sms, number, stop=False)
    return None


def _error_rule(code: str | None) -> ErrorRule:
    if not code or not code.strip().isdigit():
        return ErrorRule()
    return TWILIO_ERRORS.get(int(code), ErrorRule())

"""What providers tell us after a send: Twilio's status callbacks and inbound SMS (RULES S1-S3).

The mapping is data (S2): :data:`TWILIO_STATUSES` maps a ``MessageStatus`` onto a delivery status
and :data:`TWILIO_ERRORS` says what an ``ErrorCode`` adds. Updates only move a delivery forward
(:data:`STATUS_RANK`, RULES D5), so a late or repeated callback changes nothing.

Error 30003 (handset unreachable) is "retried later" by leaving the delivery as it was: it stays
``sent`` and the next broadcast reaches the number again; it is neither failed nor suppressed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from broadcast.channels.base import ChannelName
from broadcast.core.timeutil import utcnow
from broadcast.deliveries.models import STATUS_RANK, Delivery, DeliveryStatus
from broadcast.directory.service import suppress, unsuppress
from broadcast.settings import Settings, TwilioAccount

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
    """The account whose auth token signed this request (RULES S1), or None: refuse it."""
    for account in settings.twilio_accounts:
        if params.get("AccountSid") not in (None, account.account_sid):
            continue
        validator = RequestValidator(account.auth_token.get_secret_value())
        if validator.validate(url, dict(params), signature):
            return account
    return None


async def apply_twilio_status(session: AsyncSession, params: Mapping[str, str]) -> bool:
    """Apply one status callback to the delivery it names; True when the delivery moved."""
    delivery = await sms_delivery(session, params.get("MessageSid", ""))
    return delivery is not None and await apply_status_to(session, delivery, params)


async def apply_status_to(
    session: AsyncSession, delivery: Delivery, params: Mapping[str, str]
) -> bool:
    """Apply one status callback to ``delivery``; True when it moved."""
    new_status = TWILIO_STATUSES.get(params.get("MessageStatus", "").lower())
    if new_status is None:
        return False
    rule = _error_rule(params.get("ErrorCode"))
    if rule.suppress_reason is not None:
        await suppress(session, ChannelName.sms, delivery.address, rule.suppress_reason)
    if rule.keep_status:
        return False
    error = f"twilio {params['ErrorCode']}" if params.get("ErrorCode") else None
    return await _move_forward(session, delivery.id or 0, new_status, error)


async def apply_inbound(session: AsyncSession, params: Mapping[str, str]) -> str | None:
    """STOP words suppress the sender's number, START words lift it (RULES S3); returns the
    action taken ("stop", "start") or None for any other text."""
    word = params.get("Body", "").strip().upper()
    number = params.get("From", "").strip()
    if not number:
        return None
    if word in STOP_WORDS:
        await suppress(session, ChannelName.sms, number, "stop")
        return "stop"
    if word in START_WORDS:
        await unsuppress(session, ChannelName.sms, number)
        return "start"
    return None


def _error_rule(code: str | None) -> ErrorRule:
    if not code or not code.strip().isdigit():
        return ErrorRule()
    return TWILIO_ERRORS.get(int(code), ErrorRule())


async def sms_delivery(session: AsyncSession, sid: str) -> Delivery | None:
    if not sid:
        return None
    found = await session.execute(
        select(Delivery).where(
            col(Delivery.provider_message_id) == sid, col(Delivery.channel) == ChannelName.sms
        )
    )
    return found.scalars().first()


async def _move_forward(
    session: AsyncSession, delivery_id: int, status: DeliveryStatus, error: str | None
) -> bool:
    lower = [s.value for s, rank in STATUS_RANK.items() if rank < STATUS_RANK[status]]
    values: dict[str, object] = {"status": status.value, "updated_at": utcnow()}
    if error is not None:
        values["error"] = error
    result = await session.execute(
        update(Delivery)
        .where(col(Delivery.id) == delivery_id, col(Delivery.status).in_(lower))
        .values(**values)
    )
    return bool(getattr(result, "rowcount", 0))

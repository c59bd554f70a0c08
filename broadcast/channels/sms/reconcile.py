"""A create left without an answer is reconciled before anything else (RULES D5: never a blind
retry of a create).

A timeout, a connection dropped after the request went out or an answer that cannot be read
may have created the message. The account's messages to that number are listed (newest first,
at most :data:`RECONCILE_LIMIT`, under its own ``provider_timeout_s``), and those created since
:data:`CLOCK_SKEW` before the attempt started, with exactly the body sent and the same ``From``
or messaging service, are the candidates. One candidate: the create happened, the delivery is
``sent`` with its SID and the status callbacks move it on. None, in a listing that reaches back
past that moment: the create never happened, it is transient and retried with the usual backoff.
Anything else (the listing fails, times out, is cut off by the limit, or shows several
candidates) stays permanent with the error "résultat incertain" (no suppression): nothing is
ever sent twice; a few messages may be missed, and the ledger says so.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from broadcast.channels.base import Outcome, Recipient, SendResult
from broadcast.channels.sms.client import TwilioClient
from broadcast.core.masking import mask_phone

log = logging.getLogger(__name__)

RECONCILE_LIMIT = 20
"""Messages to the number read back after an ambiguous create (one page)."""
CLOCK_SKEW = timedelta(minutes=2)
"""How far before the attempt started a message may be dated by Twilio's clock."""


class Unreconciled(enum.Enum):
    """What a listing says when it names no message of ours."""

    NOT_CREATED = "not created"
    UNKNOWN = "unknown"


async def reconcile(
    twilio: TwilioClient,
    recipient: Recipient,
    body: str,
    started: datetime,
    uncertain: SendResult,
    timeout_s: float,
) -> SendResult:
    """After an ambiguous create: ``sent`` with the SID Twilio has, ``transient`` if Twilio
    has nothing, ``uncertain`` when the listing cannot tell (see the module docstring)."""
    number = mask_phone(recipient.address)
    try:
        async with asyncio.timeout(timeout_s):
            listed = await twilio.client.messages.list_async(
                to=recipient.address, limit=RECONCILE_LIMIT, **twilio.listing_filters()
            )
    except Exception as exc:  # any failure leaves the create uncertain
        log.warning(
            "sms to %s: reconciliation failed (%s): %s",
            number,
            twilio.account,
            type(exc).__name__,
        )
        return uncertain
    verdict = find_created(listed, body, started - CLOCK_SKEW, twilio.same_sender)
    if verdict is Unreconciled.NOT_CREATED:
        log.info("sms to %s: reconciled, never created; retried later", number)
        return SendResult(recipient.delivery_id, Outcome.transient, error="non créé (réconcilié)")
    if verdict is Unreconciled.UNKNOWN:
        log.warning("sms to %s: reconciliation inconclusive (%s)", number, twilio.account)
        return uncertain
    log.info("sms to %s: reconciled, created as %s", number, verdict)
    return SendResult(recipient.delivery_id, Outcome.sent, provider_message_id=verdict)


def find_created(
    listed: Sequence[Any], body: str, since: datetime, ours: Callable[[Any], bool]
) -> str | Unreconciled:
    """The SID of the one message of ``listed`` (newest first, to one number) sent by us
    (``ours``) with ``body`` and created at or after ``since``; ``NOT_CREATED`` when there is
    none and the listing reaches back before ``since``; ``UNKNOWN`` when it cannot tell."""
    matches: list[str] = []
    for message in listed:
        created = message.date_created
        if not isinstance(created, datetime):
            return Unreconciled.UNKNOWN  # an undated message could be ours
        if created >= since and message.body == body and ours(message):
            matches.append(str(message.sid))
    if len(matches) == 1:
        return matches[0]
    if matches:
        return Unreconciled.UNKNOWN  # several identical messages: which one is ours is unknown
    if len(listed) >= RECONCILE_LIMIT and min(m.date_created for m in listed) >= since:
        return Unreconciled.UNKNOWN  # cut off by the limit before reaching the attempt
    return Unreconciled.NOT_CREATED

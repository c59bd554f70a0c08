"""A create left without an answer is reconciled before anything else (RULES D5: never a blind
retry of a create).

A timeout, a connection dropped after the request went out or an answer that cannot be read
may have created the message. The account's messages to that number are listed (newest first,
at most :data:`RECONCILE_LIMIT`, under its own ``provider_timeout_s``), and those created since
:data:`CLOCK_SKEW` before the attempt started, with exactly the body sent and the same ``From``
or messaging service, are the candidates. One candidate: the create happened, the delivery is
``sent`` with its SID and the status callbacks move it on. None, in a listing that reaches back
past that moment: the create never happened, it is transient and retried with the usual backoff.
A listing refused by an outage (no connection, 429, 5xx) is tried again, up to
:data:`LISTING_TRIES` times with a growing pause (:data:`LISTING_RETRY_S`), before giving up.
Anything else (the listing fails for good, times out, is cut off by the limit, or shows several
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

import aiohttp
from twilio.base.exceptions import (  # type: ignore[import-untyped]
    TwilioException,
    TwilioRestException,
)

from broadcast.channels.base import Outcome, Recipient, SendResult
from broadcast.channels.sms.client import TwilioClient
from broadcast.core.masking import mask_phone

log = logging.getLogger(__name__)

RECONCILE_LIMIT = 20
"""Messages to the number read back after an ambiguous create (one page)."""
LISTING_TRIES = 4
LISTING_RETRY_S = 0.5
"""The pause before the second listing; doubled before each next one (0.5, 1, 2 s)."""
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
        listed = await _list_waiting_out_outages(twilio, recipient.address, timeout_s)
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


async def _list_waiting_out_outages(twilio: TwilioClient, to: str, timeout_s: float) -> list[Any]:
    """The account's messages to ``to``; a listing refused by an outage is tried again."""
    pause_s = LISTING_RETRY_S
    for _ in range(LISTING_TRIES - 1):
        try:
            return await _list(twilio, to, timeout_s)
        except Exception as exc:
            if not _is_outage(exc):
                raise
            log.info("sms to %s: listing refused (%s), tried again", mask_phone(to), exc)
        await asyncio.sleep(pause_s)
        pause_s *= 2
    return await _list(twilio, to, timeout_s)


async def _list(twilio: TwilioClient, to: str, timeout_s: float) -> list[Any]:
    async with asyncio.timeout(timeout_s):
        return list(
            await twilio.client.messages.list_async(
                to=to, limit=RECONCILE_LIMIT, **twilio.listing_filters()
            )
        )


def _is_outage(exc: BaseException) -> bool:
    """No connection, or Twilio answering 429 or 5xx (a page refused raises the bare
    ``TwilioException("Unable to fetch page", response)``)."""
    if isinstance(exc, TwilioRestException):
        return _is_outage_status(exc.status)
    if isinstance(exc, TwilioException) and len(exc.args) > 1:
        return _is_outage_status(getattr(exc.args[1], "status_code", 0))
    return isinstance(exc, aiohttp.ClientConnectorError)


def _is_outage_status(status: object) -> bool:
    return isinstance(status, int) and (status == 429 or status >= 500)


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

"""SMS through Twilio's Messages API, with twilio's own async client (RULES S1-S5, D4, D5).

The text is rendered once per locale from ``templates/sms/notice.<locale>.txt``; it is the same
for every recipient. Each configured account keeps one long-lived ``AsyncTwilioHttpClient``
(an aiohttp session) opened in :meth:`SmsChannel.start`; accounts are used in turn, each with its
own rate bucket taken in :meth:`SmsChannel.send`. An account's ``base_url`` replaces
``https://api.twilio.com`` in every request: the local sandbox in tests and the demo.

Failures are classified, never raised. An answer from Twilio is unambiguous: 429 and 5xx are
transient, any other 4xx permanent, and errors 21610 (the recipient sent STOP), 21211 (invalid
number) and 21614 (not a mobile) also suppress the number. Without an answer it depends on whether
the request could have reached Twilio (RULES D5: never a blind retry of a create): a refused or
unresolvable connection sent nothing and is transient. Any other failure (a timeout, a connection
dropped after the request went out, an answer that cannot be read) may have created the message,
so the create is reconciled before anything else: the account's messages to that number are
listed (newest first, at most ``RECONCILE_LIMIT``, under its own ``provider_timeout_s``), and
those created since ``CLOCK_SKEW`` before the attempt started, with exactly the body sent and the
same ``From`` or messaging service, are the candidates. One candidate: the create happened, the
delivery is ``sent`` with its SID and the status callbacks move it on. None, in a listing that
reaches back past that moment: the create never happened, it is transient and retried with the
usual backoff. Anything else (the listing fails, times out, is cut off by the limit, or shows
several candidates) stays permanent with the error "résultat incertain" (no suppression): nothing
is ever sent twice; a few messages may be missed, and the ledger says so.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import logging
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import aiohttp
from twilio.base.exceptions import TwilioRestException  # type: ignore[import-untyped]
from twilio.http.async_http_client import AsyncTwilioHttpClient  # type: ignore[import-untyped]
from twilio.rest import Client  # type: ignore[import-untyped]

from broadcast.channels.base import (
    Channel,
    ChannelName,
    MessageContent,
    Outcome,
    Prepared,
    Recipient,
    SendResult,
)
from broadcast.core.masking import mask_phone
from broadcast.ratelimit import RateLimiter
from broadcast.rendering import PlainValue, Renderer
from broadcast.settings import RateLimit, Settings, TwilioAccount

log = logging.getLogger(__name__)

TEMPLATE_NAME = "notice"
STATUS_CALLBACK_PATH = "/providers/twilio/status"
INBOUND_PATH = "/providers/twilio/inbound"
TWILIO_API_URL = "https://api.twilio.com"

SUPPRESSING_ERRORS = frozenset({21610, 21211, 21614})
"""Twilio create errors that say the number must not be written to again."""
UNCERTAIN = "résultat incertain"
RECONCILE_LIMIT = 20
"""Messages to the number read back after an ambiguous create (one page)."""
CLOCK_SKEW = timedelta(minutes=2)
"""How far before the attempt started a message may be dated by Twilio's clock."""
_CONCURRENCY_PER_ACCOUNT = 8
_ERROR_TEXT_CHARS = 120
_PHONE_LIKE = re.compile(r"\+\d[\d ]{5,16}\d|\b\d{9,15}\b")
"""Numbers in an error text; Twilio error codes (five digits) stay readable."""


class _RedirectedHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """twilio's aiohttp client, sending what it would send to api.twilio.com to ``base_url``."""

    def __init__(self, base_url: str | None) -> None:
        super().__init__(pool_connections=True)
        self._base_url = base_url.rstrip("/") if base_url else None

    async def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if self._base_url is not None and url.startswith(TWILIO_API_URL):
            url = self._base_url + url.removeprefix(TWILIO_API_URL)
        return await super().request(method, url, *args, **kwargs)


class _Account:
    """One Twilio account and its client, open between :meth:`open` and :meth:`close`."""

    def __init__(self, account: TwilioAccount) -> None:
        self.account = account
        self._http: _RedirectedHttpClient | None = None
        self.client: Any = None

    def open(self) -> None:
        """Built inside the running loop: the aiohttp session binds to it."""
        self._http = _RedirectedHttpClient(self.account.base_url)
        token = self.account.auth_token.get_secret_value()
        self.client = Client(self.account.account_sid, token, http_client=self._http)

    async def close(self) -> None:
        http, self._http, self.client = self._http, None, None
        if http is not None:
            await http.close()

    def same_sender(self, message: Any) -> bool:
        """Whether a listed message went out through this account's ``From`` or service."""
        service = self.account.messaging_service_sid
        if service is not None:
            return bool(message.messaging_service_sid == service)
        return bool(message.from_ == self.account.sender_id)

    def sender(self) -> dict[str, str]:
        if self.account.messaging_service_sid is not None:
            return {"messaging_service_sid": self.account.messaging_service_sid}
        assert self.account.sender_id is not None
        return {"from_": self.account.sender_id}


class SmsChannel(Channel):
    """Sends rendered notices through the configured Twilio accounts, round-robin."""

    name: ClassVar[ChannelName] = ChannelName.sms

    def __init__(
        self,
        settings: Settings,
        limiter: RateLimiter | None = None,
        renderer: Renderer | None = None,
    ) -> None:
        if not settings.twilio_accounts:
            raise ValueError("the SMS channel needs at least one Twilio account")
        self._settings = settings
        self._limiter = limiter
        self._renderer = renderer or Renderer()
        self._accounts = [_Account(account) for account in settings.twilio_accounts]
        self._next_account = itertools.cycle(self._accounts)
        self._status_callback = settings.public_base_url.rstrip("/") + STATUS_CALLBACK_PATH
        self._stop_number = stop_number(settings)

    async def start(self) -> None:
        for account in self._accounts:
            account.open()

    async def close(self) -> None:
        await asyncio.gather(*(account.close() for account in self._accounts))

    @property
    def concurrency(self) -> int:
        return _CONCURRENCY_PER_ACCOUNT * len(self._accounts)

    def rate_limits(self) -> list[tuple[str, RateLimit]]:
        """The channel's bucket; each account's own bucket is taken in :meth:`send`."""
        channel_rate = self._settings.channel_rates.get(ChannelName.sms.value)
        return [("channel:sms", channel_rate)] if channel_rate is not None else []

    def prepare(self, content: MessageContent, locale: str) -> Prepared:
        text = render_sms_text(self._renderer, content, locale, self._stop_number)
        return Prepared(locale=locale, parts={"text": text})

    async def send(self, prepared: Prepared, recipient: Recipient) -> SendResult:
        account = next(self._next_account)
        if account.client is None:
            return SendResult(recipient.delivery_id, Outcome.transient, error="channel not started")
        if self._limiter is not None and account.account.rate is not None:
            bucket = f"account:twilio:{account.account.name}"
            await self._limiter.acquire([(bucket, account.account.rate)])
        body = prepared.parts["text"]
        started = datetime.now(UTC)
        try:
            async with asyncio.timeout(self._settings.provider_timeout_s):
                message = await account.client.messages.create_async(
                    to=recipient.address,
                    body=body,
                    status_callback=self._status_callback,
                    **account.sender(),
                )
        except Exception as exc:  # classified below; anything unknown is reconciled
            result = failure_result(recipient.delivery_id, exc)
            if is_ambiguous(exc):
                result = await self._reconcile(account, recipient, body, started, result)
            if result.outcome != Outcome.sent:
                log.info(
                    "sms to %s not sent (%s): %s",
                    mask_phone(recipient.address),
                    account.account,
                    result.error,
                )
            return result
        return SendResult(recipient.delivery_id, Outcome.sent, provider_message_id=message.sid)

    async def _reconcile(
        self,
        account: _Account,
        recipient: Recipient,
        body: str,
        started: datetime,
        uncertain: SendResult,
    ) -> SendResult:
        """After an ambiguous create: ``sent`` with the SID Twilio has, ``transient`` if Twilio
        has nothing, ``uncertain`` when the listing cannot tell (see the module docstring)."""
        number = mask_phone(recipient.address)
        sender = account.account.sender_id
        filters = (
            {"from_": sender}
            if sender is not None and account.account.messaging_service_sid is None
            else {}
        )
        try:
            async with asyncio.timeout(self._settings.provider_timeout_s):
                listed = await account.client.messages.list_async(
                    to=recipient.address, limit=RECONCILE_LIMIT, **filters
                )
        except Exception as exc:  # any failure leaves the create uncertain
            log.warning(
                "sms to %s: reconciliation failed (%s): %s",
                number,
                account.account,
                type(exc).__name__,
            )
            return uncertain
        verdict = find_created(listed, body, started - CLOCK_SKEW, account.same_sender)
        if verdict is Unreconciled.NOT_CREATED:
            log.info("sms to %s: reconciled, never created; retried later", number)
            return SendResult(
                recipient.delivery_id, Outcome.transient, error="non créé (réconcilié)"
            )
        if verdict is Unreconciled.UNKNOWN:
            log.warning("sms to %s: reconciliation inconclusive (%s)", number, account.account)
            return uncertain
        log.info("sms to %s: reconciled, created as %s", number, verdict)
        return SendResult(recipient.delivery_id, Outcome.sent, provider_message_id=verdict)


class Unreconciled(enum.Enum):
    """What a listing says when it names no message of ours."""

    NOT_CREATED = "not created"
    UNKNOWN = "unknown"


def is_ambiguous(exc: BaseException) -> bool:
    """Whether a failed create may still have created the message (reconcile before retrying)."""
    return not isinstance(exc, TwilioRestException | aiohttp.ClientConnectorError)


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


def stop_number(settings: Settings) -> str | None:
    """The two-way number that receives STOP, if an account has one (RULES S5)."""
    return next((a.two_way_number for a in settings.twilio_accounts if a.two_way_number), None)


def render_sms_text(
    renderer: Renderer, content: MessageContent, locale: str, stop: str | None
) -> str:
    """The SMS body for ``locale``, on one line: what is sent, and what the preview prices."""
    context: dict[str, PlainValue] = {
        "notice_title": content.notice_title,
        "notice_status": content.notice_status,
        "update_message": content.update_message,
        "organisation_name": content.organisation_name,
        "urgent": content.urgent,
        "exercise": content.exercise,
        "public_url": content.public_url,
        "stop_number": stop,
        **content.wording_context(),
    }
    rendered = renderer.render("sms", TEMPLATE_NAME, locale, context)
    return " ".join(rendered["text"].split())


def failure_result(delivery_id: int, exc: BaseException) -> SendResult:
    """The :class:`SendResult` for a failed create (see the module docstring)."""
    if isinstance(exc, TwilioRestException):
        return _twilio_error(delivery_id, exc)
    if isinstance(exc, aiohttp.ClientConnectorError):  # nothing was sent
        return SendResult(delivery_id, Outcome.transient, error="connection failed")
    return SendResult(delivery_id, Outcome.permanent, error=f"{UNCERTAIN} ({type(exc).__name__})")


def _twilio_error(delivery_id: int, exc: Any) -> SendResult:
    status, code = int(exc.status), exc.code
    error = f"twilio {status} {code or ''} {exc.msg or ''}"
    error = _PHONE_LIKE.sub(lambda match: mask_phone(match.group()), " ".join(error.split()))
    error = error[:_ERROR_TEXT_CHARS]
    if code in SUPPRESSING_ERRORS:
        return SendResult(delivery_id, Outcome.permanent, error=error, suppress=True)
    if status == 429 or status >= 500:
        return SendResult(delivery_id, Outcome.transient, error=error)
    return SendResult(delivery_id, Outcome.permanent, error=error)

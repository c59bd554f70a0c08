"""SMS through Twilio's Messages API, with twilio's own async client (RULES S1-S5, D4, D5).

The text is rendered once per locale from ``templates/sms/notice.<locale>.txt``; it is the same
for every recipient. Each configured account keeps one long-lived client (an aiohttp session,
:mod:`broadcast.channels.sms.client`) opened in :meth:`SmsChannel.start`; accounts are used in
turn, skipping those paused (:mod:`broadcast.channels.health`: credentials refused, failing),
each with its own rate bucket taken in :meth:`SmsChannel.send`: the account's ``rate``, or
:attr:`SmsChannel.default_rate` when it names none (said once in the log at start-up).

Failures are classified, never raised (:mod:`broadcast.channels.sms.errors`); a create left
without an answer is reconciled before it is retried or given up
(:mod:`broadcast.channels.sms.reconcile`). What Twilio says afterwards, in its status callbacks
and inbound SMS, is parsed in :mod:`broadcast.channels.sms.callbacks`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import ClassVar

from broadcast.channels.base import (
    Channel,
    ChannelName,
    MessageContent,
    OperatorAlert,
    Outcome,
    Prepared,
    Recipient,
    SendResult,
    rate_or_default,
)
from broadcast.channels.health import AccountHealth, unique_names
from broadcast.channels.sms.callbacks import STATUS_CALLBACK_PATH
from broadcast.channels.sms.client import TwilioClient, noting_retry_after
from broadcast.channels.sms.errors import failure_result, is_ambiguous
from broadcast.channels.sms.reconcile import reconcile
from broadcast.core.masking import mask_phone
from broadcast.ratelimit import RateLimit, RateLimiter
from broadcast.rendering import PlainValue, Renderer
from broadcast.settings import Settings

log = logging.getLogger(__name__)

TEMPLATE_NAME = "notice"


class SmsChannel(Channel):
    """Sends rendered notices through the configured Twilio accounts, round-robin."""

    name: ClassVar[ChannelName] = ChannelName.sms
    default_rate: ClassVar[RateLimit | None] = None
    """Unlimited unless an account names its ``rate``: Twilio accepts creates beyond a sender's
    throughput and queues them on its side (up to four hours' worth). Set an account's rate to
    its sender's throughput (e.g. 10/s for an alphanumeric sender) to keep the queue here."""
    max_body_chars: ClassVar[int] = 1600
    """Twilio refuses a longer body (error 21617): 1,600 characters, ten segments of GSM-7."""
    status_callbacks: ClassVar[bool] = True

    def __init__(
        self,
        settings: Settings,
        limiter: RateLimiter | None = None,
        renderer: Renderer | None = None,
        health: AccountHealth | None = None,
    ) -> None:
        if not settings.twilio_accounts:
            raise ValueError("the SMS channel needs at least one Twilio account")
        self._settings = settings
        self._limiter = limiter
        self._renderer = renderer or Renderer()
        self._accounts = [
            TwilioClient(account, rate_or_default(type(self), account.rate, str(account)))
            for account in settings.twilio_accounts
        ]
        names = unique_names([str(client.account.name) for client in self._accounts])
        self._by_name = dict(zip(names, self._accounts, strict=True))
        self._health = health or AccountHealth(
            None, ChannelName.sms, settings.provider_probe_after_s
        )
        self._turn = 0
        self._status_callback = settings.public_base_url.rstrip("/") + STATUS_CALLBACK_PATH
        self._stop_number = stop_number(settings)

    async def start(self) -> None:
        for account in self._accounts:
            account.open()

    async def close(self) -> None:
        await asyncio.gather(*(account.close() for account in self._accounts))

    def rate_limits(self) -> list[tuple[str, RateLimit]]:
        """The channel's bucket; each account's own bucket is taken in :meth:`send`."""
        channel_rate = self._settings.channel_rates.get(ChannelName.sms.value)
        return [("channel:sms", channel_rate)] if channel_rate is not None else []

    def prepare(self, content: MessageContent, locale: str) -> Prepared:
        text = render_sms_text(self._renderer, content, locale, self._stop_number)
        return Prepared(locale=locale, parts={"text": text})

    async def send(self, prepared: Prepared, recipient: Recipient) -> SendResult:
        usable = await self._health.usable(list(self._by_name))
        if not usable:  # every account paused: the SMS waits, the broadcast says why
            reason = self._health.reason()
            return SendResult(recipient.delivery_id, Outcome.transient, error=reason, held=reason)
        name = usable[self._turn % len(usable)]
        self._turn += 1
        result = await self._send_with(self._by_name[name], prepared, recipient)
        if result.held is not None:
            if await self._health.pause(name, result.held):
                details = {"channel": "sms", "account": name, "reason": result.held}
                result = replace(result, alert=OperatorAlert("provider.account_paused", details))
        else:
            await self._health.note(name, failed=_account_failing(result))
        return replace(result, account=name)

    async def _send_with(
        self, account: TwilioClient, prepared: Prepared, recipient: Recipient
    ) -> SendResult:
        if account.client is None:
            return SendResult(recipient.delivery_id, Outcome.transient, error="channel not started")
        if self._limiter is not None and account.rate is not None:
            bucket = f"account:twilio:{account.account.name}"
            await self._limiter.acquire([(bucket, account.rate)])
        result = await self._create(account, recipient, prepared.parts["text"])
        if result.outcome != Outcome.sent:
            number = mask_phone(recipient.address)
            log.info("sms to %s not sent (%s): %s", number, account.account, result.error)
        return result

    async def _create(self, account: TwilioClient, recipient: Recipient, body: str) -> SendResult:
        """One create; a failure that may have created the message is reconciled."""
        started = datetime.now(UTC)
        timeout_s = self._settings.provider_timeout_s
        try:
            with noting_retry_after() as retry_after:
                async with asyncio.timeout(timeout_s):
                    message = await account.client.messages.create_async(
                        to=recipient.address,
                        body=body,
                        status_callback=self._status_callback,
                        **account.sender(),
                    )
        except Exception as exc:  # classified; anything unknown is reconciled
            result = failure_result(recipient.delivery_id, exc, retry_after.seconds)
            if is_ambiguous(exc):
                result = await reconcile(account, recipient, body, started, result, timeout_s)
            return result
        return SendResult(recipient.delivery_id, Outcome.sent, provider_message_id=message.sid)


def _account_failing(result: SendResult) -> bool:
    """A failure that says the account does not work (no connection, 5xx), not a 429."""
    error = result.error or ""
    return result.outcome == Outcome.transient and not error.startswith("twilio 429")


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

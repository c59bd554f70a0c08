"""Web push as a :class:`Channel`, on top of :class:`WebPushSender` (RULES P1-P3).

A delivery's address is a subscription id (``ContactPoint(channel="push", address=str(id))``);
the endpoint and keys are read from ``push_subscription``. The sends of one dispatch group run
concurrently, so :class:`SubscriptionLoader` gathers the ids asked for in the same turn of the
event loop and reads them in one query: one query per group, not per message.

The title and body are rendered once per locale from ``templates/push/notice.<locale>.*``. Every
push carries ``TTL`` (``Settings.push_ttl_s``), a ``Topic`` per notice (a newer update replaces
the older one on the device) and ``Urgency: high`` for urgent broadcasts and for incidents still
being analysed (``investigating``, ``identified``). A 404/410 fails the delivery with
``suppress=True``, which the ledger turns into the deletion of the subscription and its contact
point; a 401/403 means the push service refuses our VAPID credentials: it is logged at ERROR by
the sender (endpoint masked) and recorded once every few minutes in the audit log as
``push.credentials_refused`` for the operator, and the subscription is kept.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, ClassVar

from broadcast.accounts.service import audit
from broadcast.channels.base import (
    Channel,
    ChannelName,
    MessageContent,
    Outcome,
    Prepared,
    Recipient,
    SendResult,
)
from broadcast.channels.push.webpush import (
    PushResult,
    WebPushSender,
    mask_endpoint,
    topic_for_notice,
)
from broadcast.core.db import SessionFactory, transaction
from broadcast.directory.models import PushSubscription
from broadcast.directory.push import subscription_info, subscriptions_by_id
from broadcast.rendering import PlainValue, Renderer
from broadcast.settings import RateLimit, Settings

log = logging.getLogger(__name__)

TEMPLATE_NAME = "notice"
EXERCISE_PREFIX = "EXERCICE - "
"""As the SMS and the email subject say it."""
HIGH_URGENCY_STATUSES = frozenset({"investigating", "identified"})
GONE = "abonnement supprimé"
ALERT_EVERY_S = 300.0
"""At most one audit entry per worker and this many seconds for refused VAPID credentials."""
_MESSAGE_ID_CHARS = 128


class SubscriptionLoader:
    """Reads the subscriptions asked for in one turn of the event loop with one query."""

    def __init__(self, factory: SessionFactory) -> None:
        self._factory = factory
        self._waiting: dict[int, list[asyncio.Future[PushSubscription | None]]] = {}
        self._loads: set[asyncio.Task[None]] = set()

    async def get(self, subscription_id: int) -> PushSubscription | None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[PushSubscription | None] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._flush)
        self._waiting.setdefault(subscription_id, []).append(future)
        return await future

    def _flush(self) -> None:
        waiting, self._waiting = self._waiting, {}
        task = asyncio.create_task(self._load(waiting))
        self._loads.add(task)
        task.add_done_callback(self._loads.discard)

    async def _load(
        self, waiting: dict[int, list[asyncio.Future[PushSubscription | None]]]
    ) -> None:
        try:
            async with transaction(self._factory) as session:
                found = await subscriptions_by_id(session, list(waiting))
        except Exception as exc:  # handed to every waiting send, which reports it as transient
            for futures in waiting.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(exc)
            return
        for subscription_id, futures in waiting.items():
            for future in futures:
                if not future.done():
                    future.set_result(found.get(subscription_id))


class PushChannel(Channel):
    """Sends rendered notices to browsers' push services, signed with our VAPID key."""

    name: ClassVar[ChannelName] = ChannelName.push

    def __init__(
        self, settings: Settings, factory: SessionFactory, renderer: Renderer | None = None
    ) -> None:
        if settings.vapid_private_key is None:
            raise ValueError("the push channel needs BROADCAST_VAPID_PRIVATE_KEY")
        self._settings = settings
        self._factory = factory
        self._renderer = renderer or Renderer()
        self.sender = WebPushSender(
            settings.vapid_private_key.get_secret_value(),
            settings.vapid_subject,
            timeout_s=settings.provider_timeout_s,
        )
        self._loader = SubscriptionLoader(factory)
        self._last_alert = -ALERT_EVERY_S

    async def start(self) -> None:
        await self.sender.start()

    async def close(self) -> None:
        await self.sender.close()

    @property
    def concurrency(self) -> int:
        return self.sender.connections

    def rate_limits(self) -> list[tuple[str, RateLimit]]:
        channel_rate = self._settings.channel_rates.get(ChannelName.push.value)
        return [("channel:push", channel_rate)] if channel_rate is not None else []

    def prepare(self, content: MessageContent, locale: str) -> Prepared:
        return Prepared(
            locale=locale,
            parts={
                "payload": render_push_payload(self._renderer, content, locale),
                "urgent": is_high_urgency(content),
                "topic": topic_for_notice(content.notice_id),
            },
        )

    async def send(self, prepared: Prepared, recipient: Recipient) -> SendResult:
        try:
            subscription = await self._loader.get(int(recipient.address))
        except Exception as exc:  # the database, not the recipient: try again later
            error = f"lecture de l'abonnement impossible ({type(exc).__name__})"
            return SendResult(recipient.delivery_id, Outcome.transient, error=error)
        if subscription is None:
            return SendResult(recipient.delivery_id, Outcome.permanent, error=GONE)
        result = await self.sender.send(
            subscription_info(subscription),
            prepared.parts["payload"],
            ttl=self._settings.push_ttl_s,
            urgent=prepared.parts["urgent"],
            topic=prepared.parts["topic"],
        )
        if result.alert_operator:
            await self._alert_operator(subscription, result)
        return _send_result(recipient.delivery_id, result)

    async def _alert_operator(self, subscription: PushSubscription, result: PushResult) -> None:
        """An audit entry the operator sees; throttled, since every push will be refused."""
        now = time.monotonic()
        if now - self._last_alert < ALERT_EVERY_S:
            return
        self._last_alert = now
        details = {"push_service": mask_endpoint(subscription.endpoint), "error": result.error}
        try:
            async with transaction(self._factory) as session:
                audit(session, None, "push.credentials_refused", details=details)
        except Exception:
            log.exception("could not record the push credentials alert")


def is_high_urgency(content: MessageContent) -> bool:
    """``Urgency: high`` for urgent broadcasts and for incidents still being analysed."""
    return content.urgent or content.notice_status in HIGH_URGENCY_STATUSES


def render_push_payload(renderer: Renderer, content: MessageContent, locale: str) -> dict[str, Any]:
    """The JSON a service worker shows: title, body, the notice and where to read more."""
    context: dict[str, PlainValue] = {
        "notice_title": content.notice_title,
        "notice_status": content.notice_status,
        "update_message": content.update_message,
        "organisation_name": content.organisation_name,
        "urgent": content.urgent,
        "public_url": content.public_url,
        **content.wording_context(),
    }
    rendered = renderer.render("push", TEMPLATE_NAME, locale, context)
    title = " ".join(rendered["title"].split())
    if content.exercise:
        title = EXERCISE_PREFIX + title
    payload: dict[str, Any] = {
        "title": title,
        "body": rendered["text"].strip(),
        "notice_id": content.notice_id,
        "status": content.notice_status,
        "tag": topic_for_notice(content.notice_id),
    }
    if content.public_url:
        payload["url"] = content.public_url
    return payload


def _send_result(delivery_id: int, result: PushResult) -> SendResult:
    message_id = result.provider_message_id
    return SendResult(
        delivery_id,
        result.outcome,
        provider_message_id=message_id[-_MESSAGE_ID_CHARS:] if message_id else None,
        error=f"{GONE} (HTTP {result.status})" if result.status in (404, 410) else result.error,
        suppress=result.delete_subscription,
    )

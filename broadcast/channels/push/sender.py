"""Web push as a :class:`Channel`, on top of :class:`WebPushSender` (RULES P1-P3).

A delivery's address is a subscription id (``ContactPoint(channel="push", address=str(id))``);
the endpoint and keys are read from ``push_subscription`` by :meth:`PushChannel.load_targets`,
in the dispatcher's session, one query per group. The channel opens no transaction.

The title and body are rendered once per locale from ``templates/push/notice.<locale>.*``. Every
push carries ``TTL`` (``Settings.push_ttl_s``), a ``Topic`` per notice (a newer update replaces
the older one on the device) and ``Urgency: high`` for urgent broadcasts and for incidents still
being analysed (``investigating``, ``identified``). A 404/410 fails the delivery with
``suppress=True``, which the ledger has the directory turn into the deletion of the subscription
and its contact point; a 401/403 means the push service refuses our VAPID credentials: it is
logged at ERROR by the sender (endpoint masked) and, once every few minutes, the result carries
an :class:`OperatorAlert` ``push.credentials_refused`` that the ledger writes to the audit log;
the subscription is kept.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, ClassVar

from sqlalchemy.ext.asyncio import AsyncSession

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
from broadcast.channels.push.webpush import (
    MAX_PAYLOAD_BYTES,
    PushResult,
    WebPushSender,
    mask_endpoint,
    topic_for_notice,
)
from broadcast.directory.models import PushSubscription
from broadcast.directory.push import subscription_info, subscriptions_by_id
from broadcast.ratelimit import RateLimit
from broadcast.rendering import PlainValue, Renderer
from broadcast.settings import Settings

TEMPLATE_NAME = "notice"
EXERCISE_PREFIX = "EXERCICE - "
"""As the SMS and the email subject say it."""
HIGH_URGENCY_STATUSES = frozenset({"investigating", "identified"})
GONE = "abonnement supprimé"
ALERT_EVERY_S = 300.0
"""At most one audit entry per worker and this many seconds for refused VAPID credentials."""
_MESSAGE_ID_CHARS = 128


class PushChannel(Channel):
    """Sends rendered notices to browsers' push services, signed with our VAPID key."""

    name: ClassVar[ChannelName] = ChannelName.push
    default_rate: ClassVar[RateLimit | None] = None
    """Unlimited: push services publish no send rate; the sender's pool of connections paces
    the sends, and a 429 is retried after its ``Retry-After``."""
    max_payload_bytes: ClassVar[int] = MAX_PAYLOAD_BYTES
    """RULES P3: the JSON payload is shortened to fit under 3 kB before encryption."""

    def __init__(self, settings: Settings, renderer: Renderer | None = None) -> None:
        if settings.vapid_private_key is None:
            raise ValueError("the push channel needs BROADCAST_VAPID_PRIVATE_KEY")
        self._settings = settings
        self._renderer = renderer or Renderer()
        self._rate = rate_or_default(
            type(self), settings.channel_rates.get(ChannelName.push.value), "channel"
        )
        self.sender = WebPushSender(
            settings.vapid_private_key.get_secret_value(),
            settings.vapid_subject,
            timeout_s=settings.provider_timeout_s,
            max_payload_bytes=self.max_payload_bytes,
        )
        self._last_alert = -ALERT_EVERY_S

    async def start(self) -> None:
        await self.sender.start()

    async def close(self) -> None:
        await self.sender.close()

    def concurrency(self) -> int:
        return self.sender.connections

    def rate_limits(self) -> list[tuple[str, RateLimit]]:
        """Push has no provider account: the channel's bucket is the only one."""
        return [("channel:push", self._rate)] if self._rate is not None else []

    def prepare(self, content: MessageContent, locale: str) -> Prepared:
        return Prepared(
            locale=locale,
            parts={
                "payload": render_push_payload(self._renderer, content, locale),
                "urgent": is_high_urgency(content),
                "topic": topic_for_notice(content.notice_id),
            },
        )

    async def load_targets(
        self, session: AsyncSession, addresses: Sequence[str]
    ) -> dict[str, PushSubscription]:
        """The subscriptions the addresses name, in one query; a deleted one is left out."""
        found = await subscriptions_by_id(session, [int(address) for address in addresses])
        return {str(subscription_id): row for subscription_id, row in found.items()}

    async def send(self, prepared: Prepared, recipient: Recipient) -> SendResult:
        subscription: PushSubscription | None = recipient.target
        if subscription is None:
            return SendResult(recipient.delivery_id, Outcome.permanent, error=GONE)
        result = await self.sender.send(
            subscription_info(subscription),
            prepared.parts["payload"],
            ttl=self._settings.push_ttl_s,
            urgent=prepared.parts["urgent"],
            topic=prepared.parts["topic"],
        )
        alert = self._operator_alert(subscription, result) if result.alert_operator else None
        return _send_result(recipient.delivery_id, result, alert)

    def _operator_alert(
        self, subscription: PushSubscription, result: PushResult
    ) -> OperatorAlert | None:
        """An audit entry the operator sees; throttled, since every push will be refused."""
        now = time.monotonic()
        if now - self._last_alert < ALERT_EVERY_S:
            return None
        self._last_alert = now
        details = {"push_service": mask_endpoint(subscription.endpoint), "error": result.error}
        return OperatorAlert("push.credentials_refused", details)


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


def _send_result(delivery_id: int, result: PushResult, alert: OperatorAlert | None) -> SendResult:
    message_id = result.provider_message_id
    return SendResult(
        delivery_id,
        result.outcome,
        provider_message_id=message_id[-_MESSAGE_ID_CHARS:] if message_id else None,
        error=f"{GONE} (HTTP {result.status})" if result.status in (404, 410) else result.error,
        suppress=result.delete_subscription,
        alert=alert,
        retry_after_s=result.retry_after_s,
    )

"""Delivery of one signed webhook and the classification of its outcome (RULES W1, W2, W3).

One long-lived aiohttp session per worker (:meth:`WebhookSender.start` / :meth:`close`). Each
request is preceded by the SSRF check and goes only to the addresses that check returned; it
never follows a redirect and gives up after 15 s. The outcome says what to do next:

* 2xx: delivered;
* 410 Gone: the subscriber asks us to stop, ``disable=True``;
* 429, 5xx, timeout, connection error, unresolvable host: retry (``Retry-After`` honoured);
* 3xx (redirects are not followed), other 4xx, refused URL: failed, no retry.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import aiohttp

from broadcast.core.httputil import parse_retry_after
from broadcast.webhooks import signing
from broadcast.webhooks.ssrf import (
    PinnedResolver,
    ResolvedTarget,
    UnsafeWebhookUrl,
    WebhookHostNotFound,
    check_url,
)

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 15.0
USER_AGENT = "broadcast-webhooks/1"

RETRY_DELAYS_S: tuple[float, ...] = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600)
"""Delay before each retry: about 17.6 h in all, so an endpoint has about a day to come back."""
RETRY_JITTER = 0.2
MAX_RETRY_AFTER_S = 24 * 3600.0
RETRY_STATUSES = frozenset({429})


class DeliveryOutcome(enum.StrEnum):
    delivered = "delivered"
    retry = "retry"
    failed = "failed"


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """What one request gave, and what to do with the endpoint and the message next."""

    outcome: DeliveryOutcome
    status_code: int | None = None
    error: str | None = None
    retry_after_s: float | None = None
    """The subscriber's ``Retry-After``, in seconds from now (give it to :func:`next_delay`)."""
    disable: bool = False
    """True when the endpoint must be disabled (410 Gone)."""
    duration_s: float = 0.0

    @property
    def delivered(self) -> bool:
        return self.outcome is DeliveryOutcome.delivered

    @property
    def should_retry(self) -> bool:
        return self.outcome is DeliveryOutcome.retry


class WebhookSender:
    """Signs and posts webhooks through one session; SSRF flags come from the settings."""

    def __init__(
        self,
        *,
        allow_http: bool = False,
        allow_internal: bool = False,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.allow_http = allow_http
        self.allow_internal = allow_internal
        self.timeout_s = timeout_s
        self._clock = clock
        self._resolver = PinnedResolver()
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(resolver=self._resolver, use_dns_cache=False)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                headers={"User-Agent": USER_AGENT},
                trust_env=False,
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def deliver(
        self,
        url: str,
        secret: str,
        event_type: str,
        payload: dict[str, Any],
        msg_id: str,
        occurred_at: datetime | None = None,
    ) -> DeliveryAttempt:
        """Post one event to ``url``; never raises for a subscriber's or network failure.

        ``occurred_at`` dates the event in the body (a retry keeps it); the signed
        ``webhook-timestamp`` header is always the time of sending."""
        started = time.monotonic()
        attempt = await self._attempt(url, secret, event_type, payload, msg_id, occurred_at)
        attempt = replace(attempt, duration_s=round(time.monotonic() - started, 3))
        log.info(
            "webhook %s %s to %s: %s %s",
            event_type,
            msg_id,
            _masked(url),
            attempt.outcome,
            attempt.status_code or attempt.error,
        )
        return attempt

    async def _attempt(
        self,
        url: str,
        secret: str,
        event_type: str,
        payload: dict[str, Any],
        msg_id: str,
        occurred_at: datetime | None = None,
    ) -> DeliveryAttempt:
        timestamp = int(self._clock())
        body = encode_event(event_type, payload, timestamp, occurred_at)
        request_headers = {"Content-Type": "application/json"}
        request_headers |= signing.headers(secret, msg_id, timestamp, body)
        try:
            async with asyncio.timeout(self.timeout_s):
                target = await self._checked(url)
                return await self._post(target, body, request_headers)
        except UnsafeWebhookUrl as exc:
            return DeliveryAttempt(DeliveryOutcome.failed, error=exc.message_fr)
        except WebhookHostNotFound as exc:
            return DeliveryAttempt(DeliveryOutcome.retry, error=exc.message_fr)
        except TimeoutError:
            return _retry(f"Pas de réponse en {self.timeout_s:g} s.")
        except aiohttp.ClientError as exc:
            return _retry(f"Erreur de connexion : {type(exc).__name__}.")
        except OSError as exc:
            return _retry(f"Erreur réseau : {type(exc).__name__}.")

    async def _checked(self, url: str) -> ResolvedTarget:
        target = await check_url(
            url, allow_http=self.allow_http, allow_internal=self.allow_internal
        )
        self._resolver.pin(target)
        return target

    async def _post(
        self, target: ResolvedTarget, body: bytes, headers: dict[str, str]
    ) -> DeliveryAttempt:
        if self._session is None:
            raise RuntimeError("WebhookSender.start() was not called")
        async with self._session.post(
            target.url, data=body, headers=headers, allow_redirects=False
        ) as response:
            return classify(response.status, response.headers.get("Retry-After"), self._clock())


def encode_event(
    event_type: str,
    payload: dict[str, Any],
    timestamp: int,
    occurred_at: datetime | None = None,
) -> bytes:
    """The Standard Webhooks body: ``{"type", "timestamp", "data"}`` as compact UTF-8 JSON;
    ``timestamp`` is ``occurred_at`` when given, else the Unix ``timestamp``."""
    when = occurred_at or datetime.fromtimestamp(timestamp, UTC)
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    event = {
        "type": event_type,
        "timestamp": when.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "data": payload,
    }
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


def classify(status: int, retry_after: str | None, now: float) -> DeliveryAttempt:
    """Map an HTTP status (and its ``Retry-After``) onto what to do next."""
    if 200 <= status < 300:
        return DeliveryAttempt(DeliveryOutcome.delivered, status)
    if status == 410:
        error = "L'abonné a répondu 410 Gone : le point de terminaison est désactivé."
        return DeliveryAttempt(DeliveryOutcome.failed, status, error, disable=True)
    if 300 <= status < 400:
        error = f"Redirection {status} non suivie : configurez l'adresse finale du webhook."
        return DeliveryAttempt(DeliveryOutcome.failed, status, error)
    if status in RETRY_STATUSES or status >= 500:
        error = f"L'abonné a répondu {status} : nouvel essai plus tard."
        retry_after_s = parse_retry_after(retry_after, now)
        return DeliveryAttempt(DeliveryOutcome.retry, status, error, retry_after_s)
    error = f"L'abonné a refusé le message ({status}) : pas de nouvel essai."
    return DeliveryAttempt(DeliveryOutcome.failed, status, error)


def retry_schedule(rng: random.Random | None = None) -> list[float]:
    """The delays before each retry, each with ±20 % jitter."""
    return [_jittered(delay, rng) for delay in RETRY_DELAYS_S]


def next_delay(
    attempt: int,
    retry_after_s: float | None = None,
    rng: random.Random | None = None,
    delays: Sequence[float] = RETRY_DELAYS_S,
) -> float | None:
    """Seconds to wait after failed attempt number ``attempt`` (1-based); None once exhausted.

    A subscriber's ``Retry-After`` is honoured when it asks for longer than the schedule, up
    to a day. ``delays`` replaces the schedule (the settings' ``webhook_retry_delays_s``).
    """
    if not 1 <= attempt <= len(delays):
        return None
    delay = _jittered(delays[attempt - 1], rng)
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, MAX_RETRY_AFTER_S))
    return delay


def _jittered(delay: float, rng: random.Random | None) -> float:
    factor = (rng or random).uniform(1 - RETRY_JITTER, 1 + RETRY_JITTER)
    return delay * factor


def _retry(error: str) -> DeliveryAttempt:
    return DeliveryAttempt(DeliveryOutcome.retry, error=error)


def _masked(url: str) -> str:
    """Scheme and host only: paths and queries may carry the subscriber's tokens (RULES R5)."""
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host}/***"

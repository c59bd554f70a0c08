"""Web push, the sending side: encrypt, sign, post to the push service, classify the answer.

RFC 8291 encryption (``aes128gcm``) is pywebpush's :meth:`WebPusher.encode`; RFC 8292 VAPID
is py_vapid's :class:`Vapid02`. The POST itself goes through one long-lived
:class:`aiohttp.ClientSession` owned by :class:`WebPushSender` (opened by :meth:`start`, closed by
:meth:`close`), so that many sends share pooled keep-alive connections.

Why not ``pywebpush.webpush_async`` / ``WebPusher.send_async``: they encrypt inside the
coroutine, on the event loop. Encrypting one message costs about 0.25 ms of CPU (an ephemeral
ECDH key, HKDF, AES-GCM), so a worker sending thousands of pushes would stall its loop; here the
messages asked for in one turn of the loop are encrypted together in one worker thread
(:class:`_EncryptionBatches`) and only the HTTP exchange runs on the loop. The VAPID token of
each push service is signed once and reused for half its lifetime. Posting ourselves also
gives the ``Location`` and ``Retry-After`` headers of every answer without pywebpush's exception
round-trip.

Rules (RULES P1-P3): ``TTL`` always set, ``Urgency: high`` for urgent notices, a ``Topic`` so a
newer update replaces an older one on the device, the JSON payload kept within
:data:`MAX_PAYLOAD_BYTES` by shortening its text (nothing is refused). 404/410 mean the
subscription is gone (delete it); 401/403 mean our VAPID key or subject is wrong (alert the
operator, keep the subscription); 429, 5xx, timeouts and connection errors are transient.
Endpoints are capability URLs: logs and errors only ever show :func:`mask_endpoint`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from pywebpush import WebPusher  # type: ignore[import-untyped]

from broadcast.channels.base import Outcome
from broadcast.channels.push.vapid import application_server_key, load_vapid_key
from broadcast.core.httputil import parse_retry_after

log = logging.getLogger("broadcast.push")

MAX_PAYLOAD_BYTES = 3000
"""RULES P3: under 3 kB of JSON before encryption (push services accept 4096 bytes encrypted)."""
VAPID_TOKEN_LIFETIME_S = 12 * 3600
"""RFC 8292 allows at most 24 h; pywebpush uses 12 h too."""
VAPID_TOKEN_REUSE_S = VAPID_TOKEN_LIFETIME_S / 2
"""A push service's token is signed once and reused this long (an ECDSA signature per message
was a third of the CPU of a push)."""
ELLIPSIS = "…"
TEXT_KEYS = ("body", "title")
"""Payload keys shortened first when the payload is too large, in this order."""
_TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_ERROR_TEXT_BYTES = 300
_TRANSIENT_STATUSES = frozenset({408, 425, 429})


@dataclass(frozen=True, slots=True)
class PushResult:
    """How one push went; the channel maps it onto a delivery and the subscription."""

    outcome: Outcome
    status: int | None = None
    """The push service's HTTP status; None when no answer came (timeout, connection error)."""
    provider_message_id: str | None = None
    """The ``Location`` of the push message resource, when the service gave one."""
    error: str | None = None
    delete_subscription: bool = False
    """404 or 410: the browser unsubscribed or the subscription expired (RULES P2)."""
    alert_operator: bool = False
    """401 or 403: our VAPID credentials are refused; the subscription itself is fine (P2)."""
    retry_after_s: float | None = None
    """The service's ``Retry-After``, in seconds from now, when it sent one."""


def topic_for_notice(notice_id: int) -> str:
    """The ``Topic`` of a notice's pushes: a newer update replaces the older one on the device."""
    return f"notice-{notice_id}"


def mask_endpoint(endpoint: str) -> str:
    """``https://fcm.googleapis.com/fcm/send/abc...`` -> ``https://fcm.googleapis.com/***``.

    The path of a push endpoint is a capability: whoever has it can push to that browser.
    """
    parts = urlsplit(endpoint)
    if not parts.scheme or not parts.netloc:
        return "***"
    return f"{parts.scheme}://{parts.netloc}/***"


def fit_payload(payload: dict[str, Any], limit: int = MAX_PAYLOAD_BYTES) -> bytes:
    """``payload`` as compact UTF-8 JSON of at most ``limit`` bytes.

    Text is shortened with "…", ``body`` first, then ``title``, then any other string from the
    longest. Nothing is refused: a payload still too large (non-text fields) goes out as is and
    the push service answers 413, a permanent failure.
    """
    fitted = dict(payload)
    for key in _shortening_order(fitted):
        if len(_dump(fitted)) <= limit:
            break
        fitted[key] = _shortened(fitted, key, limit)
    return _dump(fitted)


def _dump(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def _shortening_order(payload: dict[str, Any]) -> list[str]:
    texts = [key for key, value in payload.items() if isinstance(value, str)]
    others = sorted((key for key in texts if key not in TEXT_KEYS), key=lambda k: -len(payload[k]))
    return [key for key in TEXT_KEYS if key in texts] + others


def _shortened(payload: dict[str, Any], key: str, limit: int) -> str:
    """The longest prefix of ``payload[key]`` plus "…" that fits ``limit`` (binary search)."""
    text: str = payload[key]
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if len(_dump({**payload, key: text[:middle].rstrip() + ELLIPSIS})) <= limit:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + ELLIPSIS


def classify(
    status: int, location: str | None, retry_after: str | None, text: str = ""
) -> PushResult:
    """RULES P2 as data: what a push service's HTTP status means for the delivery."""
    if 200 <= status < 300:
        return PushResult(Outcome.sent, status, provider_message_id=location)
    error = f"HTTP {status} {text}".strip()
    if status in (404, 410):
        return PushResult(Outcome.permanent, status, error=error, delete_subscription=True)
    if status in (401, 403):
        return PushResult(Outcome.permanent, status, error=error, alert_operator=True)
    if status in _TRANSIENT_STATUSES or status >= 500:
        delay = parse_retry_after(retry_after)
        return PushResult(Outcome.transient, status, error=error, retry_after_s=delay)
    return PushResult(Outcome.permanent, status, error=error)


@dataclass(frozen=True, slots=True)
class _Encrypted:
    body: bytes
    authorization: str


_Pending = tuple[dict[str, Any], dict[str, Any], "asyncio.Future[_Encrypted]"]


class _EncryptionBatches:
    """Encrypts the messages asked for in one turn of the event loop with one hand-off to a
    worker thread: a hand-off per message (a future, a lock, a wake-up of the loop) cost the
    event loop about as much CPU as the HTTP request itself."""

    def __init__(self, encrypt: Callable[[dict[str, Any], dict[str, Any]], _Encrypted]) -> None:
        self._encrypt = encrypt
        self._waiting: list[_Pending] = []
        self._runs: set[asyncio.Task[None]] = set()

    async def encrypt(
        self, subscription_info: dict[str, Any], payload: dict[str, Any]
    ) -> _Encrypted:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_Encrypted] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._flush)
        self._waiting.append((subscription_info, payload, future))
        return await future

    def _flush(self) -> None:
        waiting, self._waiting = self._waiting, []
        run = asyncio.create_task(self._run(waiting))
        self._runs.add(run)
        run.add_done_callback(self._runs.discard)

    async def _run(self, waiting: list[_Pending]) -> None:
        try:
            outcomes = await asyncio.to_thread(self._encrypt_all, waiting)
        except BaseException as exc:  # cancelled, or the executor shut down: every send fails
            for _, _, future in waiting:
                _fail(future, exc)
            raise
        for (_, _, future), outcome in zip(waiting, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                _fail(future, outcome)
            elif not future.done():
                future.set_result(outcome)

    def _encrypt_all(self, waiting: list[_Pending]) -> list[_Encrypted | BaseException]:
        outcomes: list[_Encrypted | BaseException] = []
        for subscription_info, payload, _ in waiting:
            try:
                outcomes.append(self._encrypt(subscription_info, payload))
            except Exception as exc:  # reported to that one send
                outcomes.append(exc)
        return outcomes


def _fail(future: asyncio.Future[_Encrypted], exc: BaseException) -> None:
    if future.done():
        return
    if isinstance(exc, asyncio.CancelledError):
        future.cancel()
    else:
        future.set_exception(exc)


class WebPushSender:
    """Sends encrypted, VAPID-signed pushes through one long-lived aiohttp session."""

    def __init__(
        self,
        vapid_private_key: str,
        subject: str,
        timeout_s: float = 30.0,
        *,
        connections: int = 100,
        max_payload_bytes: int = MAX_PAYLOAD_BYTES,
    ) -> None:
        if not subject.startswith(("mailto:", "https://")):
            raise ValueError("the VAPID subject must be a mailto: or https:// contact")
        self._vapid = load_vapid_key(vapid_private_key)
        self.subject = subject
        self.timeout_s = timeout_s
        self.connections = connections
        self.max_payload_bytes = max_payload_bytes
        self.application_server_key = application_server_key(self._vapid)
        self._session: aiohttp.ClientSession | None = None
        self._tokens: dict[str, tuple[str, float]] = {}
        self._batches = _EncryptionBatches(self._encrypt)
        self._sign("https://push.example.invalid")  # a bad subject fails now, not per send

    def __repr__(self) -> str:  # never print the key
        return f"WebPushSender(subject={self.subject!r}, key={self.application_server_key[:8]}…)"

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("WebPushSender.start() has not been called")
        return self._session

    async def start(self) -> None:
        """Open the one session every send shares (call once per worker)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                connector=aiohttp.TCPConnector(limit=self.connections),
            )

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def send(
        self,
        subscription_info: dict[str, Any],
        payload: dict[str, Any],
        *,
        ttl: int,
        urgent: bool,
        topic: str | None,
    ) -> PushResult:
        """Push ``payload`` (shortened to fit ``max_payload_bytes``) to one subscription.

        Never raises for a provider failure; raises ValueError for a negative ``ttl`` or a
        ``topic`` that is not 1-32 characters of the base64url alphabet (a programming error).
        """
        headers = _delivery_headers(ttl, urgent, topic)
        session = self.session
        endpoint = str(subscription_info.get("endpoint", ""))
        try:
            encrypted = await self._batches.encrypt(subscription_info, payload)
        except Exception as exc:  # a malformed stored subscription can never be delivered
            log.warning("push subscription unusable: %s (%s)", mask_endpoint(endpoint), exc)
            error = f"invalid subscription: {type(exc).__name__}"
            return PushResult(Outcome.permanent, error=error, delete_subscription=True)
        headers["Authorization"] = encrypted.authorization
        return await self._post(session, endpoint, encrypted.body, headers)

    def _encrypt(self, subscription_info: dict[str, Any], payload: dict[str, Any]) -> _Encrypted:
        """CPU work, run in a thread: fitting the payload, RFC 8291 encryption, RFC 8292 signing."""
        parts = urlsplit(str(subscription_info["endpoint"]))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("endpoint is not an http(s) URL")
        fitted = fit_payload(payload, self.max_payload_bytes)
        encoded = WebPusher(subscription_info).encode(fitted, "aes128gcm")
        body = bytes(encoded["body"])
        return _Encrypted(body, self._authorization(f"{parts.scheme}://{parts.netloc}"))

    def _authorization(self, audience: str) -> str:
        """The VAPID header for one push service, signed again once half its lifetime is over.

        Called from worker threads: at worst two threads sign the same audience at once."""
        now = time.time()
        cached = self._tokens.get(audience)
        if cached is not None and cached[1] > now:
            return cached[0]
        header = self._sign(audience)
        self._tokens[audience] = (header, now + VAPID_TOKEN_REUSE_S)
        return header

    def _sign(self, audience: str) -> str:
        claims = {
            "aud": audience,
            "sub": self.subject,
            "exp": int(time.time()) + VAPID_TOKEN_LIFETIME_S,
        }
        try:
            return str(self._vapid.sign(claims)["Authorization"])
        except Exception as exc:  # py_vapid's VapidException for a malformed sub or aud
            raise ValueError(f"cannot sign VAPID claims: {exc}") from exc

    async def _post(
        self, session: aiohttp.ClientSession, endpoint: str, body: bytes, headers: dict[str, str]
    ) -> PushResult:
        masked = mask_endpoint(endpoint)
        try:
            async with session.post(
                endpoint, data=body, headers=headers, allow_redirects=False
            ) as response:
                text = (await response.content.read(_ERROR_TEXT_BYTES)).decode(errors="replace")
                result = classify(
                    response.status,
                    response.headers.get("Location"),
                    response.headers.get("Retry-After"),
                    "" if response.status < 300 else text,
                )
        except (TimeoutError, aiohttp.ClientError) as exc:
            error = f"{type(exc).__name__}: {exc}".replace(endpoint, masked)
            log.warning("push to %s failed: %s", masked, error)
            return PushResult(Outcome.transient, error=error)
        _log_result(masked, result)
        return result


def _delivery_headers(ttl: int, urgent: bool, topic: str | None) -> dict[str, str]:
    if ttl < 0:
        raise ValueError("ttl must be zero or more seconds")
    headers = {
        "TTL": str(ttl),
        "Urgency": "high" if urgent else "normal",
        "Content-Encoding": "aes128gcm",
        "Content-Type": "application/octet-stream",
    }
    if topic is not None:
        if not _TOPIC.match(topic):
            raise ValueError("a push Topic is 1-32 characters of the base64url alphabet")
        headers["Topic"] = topic
    return headers


def _log_result(masked: str, result: PushResult) -> None:
    if result.outcome is Outcome.sent:
        log.debug("push to %s accepted (%s)", masked, result.status)
    elif result.alert_operator:
        log.error("push service refuses our VAPID credentials: %s %s", masked, result.error)
    else:
        log.warning("push to %s: %s %s", masked, result.outcome, result.error)

"""A local push service (RFC 8030) that checks, decrypts and records what it receives.

It plays Mozilla's or Google's push service for the tests and the demo, without leaving
127.0.0.1. The sandbox creates the browser side too: :meth:`PushSandbox.new_subscription`
returns the ``subscription_info`` a browser's ``PushSubscription.toJSON()`` gives, and keeps the
subscription's private key so that every message can be decrypted (RFC 8291, ``aes128gcm``).

In the test's own event loop::

    push = PushSandbox()                      # 127.0.0.1, a free port
    await push.start()                        # push.port is now the real port
    subscription = push.new_subscription()    # {"endpoint": ..., "keys": {...}}
    ...                                       # push.messages, push.messages_for(subscription)
    await push.stop()

Each ``POST /push/{token}`` is checked as a push service would: the VAPID ``Authorization``
header (RFC 8292: ES256 signature, ``aud`` equal to the endpoint's origin, ``exp`` in the future
and at most 24 h away, ``sub`` a ``mailto:`` or ``https:`` contact) is 401 when wrong, 403 when the
subscription was made for another application server key; a missing ``TTL``, a malformed
``Urgency`` or ``Topic`` and an undecryptable body are 400; a body over 4096 bytes is 413.
Accepted messages answer 201 with a ``Location`` header. Refused requests are kept in
:attr:`PushSandbox.refusals`.

Failures are injected deterministically: ``expire(subscription)`` answers 410 Gone for it from
now on; ``answer_next(429, times=2, retry_after="30")`` answers the next two requests with 429
and then behaves again; ``delay_s`` slows every answer.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
import re
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import http_ece  # type: ignore[import-untyped]
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

MAX_BODY_BYTES = 4096
"""RFC 8030 section 7.2: push services must accept at least 4096 bytes and may refuse more."""
MAX_VAPID_LIFETIME_S = 24 * 3600
"""RFC 8292 section 2: ``exp`` must not be more than 24 hours from the time of the request."""
URGENCIES = frozenset({"very-low", "low", "normal", "high"})
_TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_SUB = re.compile(r"^(mailto:.+|https://.+)$")


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_key_b64(key: ec.EllipticCurvePublicKey) -> str:
    """The uncompressed point, base64url: the form of ``p256dh`` and of VAPID's ``k``."""
    raw = key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url_encode(raw)


@dataclass
class PushMessage:
    """One accepted message: which subscription, the decrypted payload and the headers."""

    token: str
    payload: bytes
    ttl: int
    urgency: str
    topic: str | None
    vapid_key: str
    vapid_sub: str
    peer: str
    received_at: datetime

    @cached_property
    def data(self) -> Any:
        """The payload parsed as JSON."""
        return json.loads(self.payload)


@dataclass(frozen=True)
class Refusal:
    """A request the sandbox refused, with why: tests read the reason, clients see the status."""

    token: str
    status: int
    reason: str


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class _Answer:
    status: int
    retry_after: str | None


@dataclass
class _Subscriber:
    """The browser side of a subscription: its ECDH key and auth secret."""

    private_key: ec.EllipticCurvePrivateKey
    auth_secret: bytes
    application_server_key: str | None
    expired: bool = False


@dataclass
class _Vapid:
    key: str
    sub: str


class PushSandbox:
    """A push service on ``host:port`` that accepts valid messages unless told to fail."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.delay_s = 0.0
        self.messages: list[PushMessage] = []
        self.refusals: list[Refusal] = []
        self._subscribers: dict[str, _Subscriber] = {}
        self._pending: deque[_Answer] = deque()
        self._peers: set[str] = set()
        self._runner: web.AppRunner | None = None

    # -- running -------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen in the running event loop; a restarted sandbox keeps its port."""
        app = web.Application()
        app.router.add_post("/push/{token}", self._handle)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        await site.start()
        self.port = int(runner.addresses[0][1])
        self._runner = runner

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    @property
    def origin(self) -> str:
        """What the VAPID ``aud`` claim must be for this service's endpoints."""
        return f"http://{self.host}:{self.port}"

    # -- subscriptions -------------------------------------------------------------------

    def new_subscription(self, application_server_key: str | None = None) -> dict[str, Any]:
        """Subscribe a new "browser" and return its ``subscription_info``.

        With ``application_server_key`` (base64url, as a browser passes it to
        ``PushManager.subscribe``) messages signed with another VAPID key are refused with 403.
        """
        token = uuid.uuid4().hex
        private_key = ec.generate_private_key(ec.SECP256R1())
        auth_secret = os.urandom(16)
        self._subscribers[token] = _Subscriber(private_key, auth_secret, application_server_key)
        return {
            "endpoint": f"{self.origin}/push/{token}",
            "keys": {
                "p256dh": public_key_b64(private_key.public_key()),
                "auth": b64url_encode(auth_secret),
            },
        }

    def expire(self, subscription: dict[str, Any]) -> None:
        """The browser unsubscribed: answer 410 Gone for this subscription from now on."""
        self._subscribers[_token_of(subscription)].expired = True

    # -- what was received ---------------------------------------------------------------

    @property
    def connections_opened(self) -> int:
        """Distinct client connections (peer address and port) that sent something."""
        return len(self._peers)

    def messages_for(self, subscription: dict[str, Any]) -> list[PushMessage]:
        token = _token_of(subscription)
        return [message for message in self.messages if message.token == token]

    def clear(self) -> None:
        self.messages.clear()
        self.refusals.clear()
        self._peers.clear()

    # -- failure injection ---------------------------------------------------------------

    def answer_next(self, status: int, times: int = 1, *, retry_after: str | None = None) -> None:
        """Answer the next ``times`` requests with ``status`` (and ``Retry-After``), then behave."""
        self._pending.extend([_Answer(status, retry_after)] * times)

    # -- the push service ----------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        if self.delay_s > 0:
            await asyncio.sleep(self.delay_s)
        token = request.match_info["token"]
        self._peers.add(_peer(request))
        if self._pending:
            answer = self._pending.popleft()
            headers = {"Retry-After": answer.retry_after} if answer.retry_after else {}
            return web.Response(status=answer.status, headers=headers)
        try:
            message = self._accept(token, request, await request.read())
        except _Refused as refused:
            self.refusals.append(Refusal(token, refused.status, refused.reason))
            return web.Response(status=refused.status, text=refused.reason)
        self.messages.append(message)
        location = f"{self.origin}/message/{uuid.uuid4().hex}"
        return web.Response(status=201, headers={"Location": location})

    def _accept(self, token: str, request: web.Request, body: bytes) -> PushMessage:
        subscriber = self._subscriber(token)
        vapid = self._check_vapid(request.headers.get("Authorization", ""), subscriber)
        ttl, urgency, topic = _delivery_headers(request)
        return PushMessage(
            token=token,
            payload=_decrypt(request, body, subscriber),
            ttl=ttl,
            urgency=urgency,
            topic=topic,
            vapid_key=vapid.key,
            vapid_sub=vapid.sub,
            peer=_peer(request),
            received_at=datetime.now(UTC),
        )

    def _subscriber(self, token: str) -> _Subscriber:
        subscriber = self._subscribers.get(token)
        if subscriber is None:
            raise _Refused(404, "unknown subscription")
        if subscriber.expired:
            raise _Refused(410, "subscription expired")
        return subscriber

    def _check_vapid(self, header: str, subscriber: _Subscriber) -> _Vapid:
        token, key = _parse_vapid_header(header)
        claims = _verified_claims(token, key)
        now = time.time()
        if claims.get("aud") != self.origin:
            raise _Refused(401, f"VAPID aud {claims.get('aud')!r} is not {self.origin!r}")
        exp = claims.get("exp")
        if not isinstance(exp, int) or not now < exp <= now + MAX_VAPID_LIFETIME_S:
            raise _Refused(401, "VAPID exp missing, past, or more than 24 h away")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not _SUB.match(sub):
            raise _Refused(401, "VAPID sub must be a mailto: or https: contact")
        expected = subscriber.application_server_key
        if expected is not None and expected.rstrip("=") != key.rstrip("="):
            raise _Refused(403, "VAPID key is not the subscription's application server key")
        return _Vapid(key, sub)


def _token_of(subscription: dict[str, Any]) -> str:
    return str(subscription["endpoint"]).rsplit("/", 1)[-1]


def _peer(request: web.Request) -> str:
    transport = request.transport
    peer = transport.get_extra_info("peername") if transport is not None else None
    return f"{peer[0]}:{peer[1]}" if peer else "?"


def _parse_vapid_header(header: str) -> tuple[str, str]:
    """``vapid t=<JWT>, k=<key>`` (RFC 8292 section 3) -> (JWT, key)."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "vapid":
        raise _Refused(401, "Authorization is not a vapid scheme")
    params: dict[str, str] = {}
    for part in rest.split(","):
        name, _, value = part.strip().partition("=")
        params[name.strip().lower()] = value.strip()
    if not params.get("t") or not params.get("k"):
        raise _Refused(401, "vapid Authorization needs t= and k=")
    return params["t"], params["k"]


def _verified_claims(token: str, key: str) -> dict[str, Any]:
    """The JWT's claims once its ES256 signature is verified with ``key``."""
    try:
        header_b64, claims_b64, signature_b64 = token.split(".")
        header = json.loads(b64url_decode(header_b64))
        claims = json.loads(b64url_decode(claims_b64))
        signature = b64url_decode(signature_b64)
        public_key = ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), b64url_decode(key)
        )
    except (ValueError, binascii.Error) as exc:
        raise _Refused(401, f"malformed VAPID token or key: {exc}") from exc
    if header.get("alg") != "ES256" or len(signature) != 64 or not isinstance(claims, dict):
        raise _Refused(401, "VAPID token must be an ES256 JWT")
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    try:
        public_key.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise _Refused(401, "VAPID signature does not verify") from exc
    return claims


def _delivery_headers(request: web.Request) -> tuple[int, str, str | None]:
    """``TTL`` (required), ``Urgency`` (default normal) and ``Topic`` (RFC 8030 section 5)."""
    ttl_text = request.headers.get("TTL")
    if ttl_text is None or not ttl_text.isdigit():
        raise _Refused(400, "TTL header missing or not a number")
    urgency = request.headers.get("Urgency", "normal")
    if urgency not in URGENCIES:
        raise _Refused(400, f"Urgency {urgency!r} is not one of {sorted(URGENCIES)}")
    topic = request.headers.get("Topic")
    if topic is not None and not _TOPIC.match(topic):
        raise _Refused(400, "Topic must be at most 32 characters of the base64url alphabet")
    return int(ttl_text), urgency, topic


def _decrypt(request: web.Request, body: bytes, subscriber: _Subscriber) -> bytes:
    if len(body) > MAX_BODY_BYTES:
        raise _Refused(413, f"body of {len(body)} bytes is over {MAX_BODY_BYTES}")
    if request.headers.get("Content-Encoding") != "aes128gcm":
        raise _Refused(400, "Content-Encoding must be aes128gcm (RFC 8291)")
    try:
        payload = http_ece.decrypt(
            body,
            private_key=subscriber.private_key,
            auth_secret=subscriber.auth_secret,
            version="aes128gcm",
        )
    except Exception as exc:  # http_ece raises ECEException, ValueError, InvalidTag...
        raise _Refused(400, f"body does not decrypt: {exc!r}") from exc
    return bytes(payload)

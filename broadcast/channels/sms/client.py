"""One Twilio account's client: twilio's own aiohttp-based async client, sent where it is told.

An account's ``base_url`` replaces ``https://api.twilio.com`` in every request: the local sandbox
in tests and the demo.

twilio's ``TwilioRestException`` keeps the status, code and message of an error but not the
response's headers (twilio 9: ``Version.exception`` builds it from the status and body only), so
the ``Retry-After`` of a 429 or 503 is noted here, as the answer comes, for the send of the same
task to read: :func:`noting_retry_after`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from twilio.http.async_http_client import AsyncTwilioHttpClient  # type: ignore[import-untyped]
from twilio.rest import Client  # type: ignore[import-untyped]

from broadcast.core.httputil import parse_retry_after
from broadcast.ratelimit import RateLimit
from broadcast.settings import TwilioAccount

TWILIO_API_URL = "https://api.twilio.com"
RETRY_AFTER_STATUSES = frozenset({429, 503})


@dataclass
class RetryAfter:
    """The ``Retry-After`` of the last 429 or 503 answered in a :func:`noting_retry_after`."""

    seconds: float | None = None


_NOTED: ContextVar[RetryAfter | None] = ContextVar("twilio_retry_after", default=None)


@contextmanager
def noting_retry_after() -> Iterator[RetryAfter]:
    """What Twilio's answers in this block (this task only) said in ``Retry-After``."""
    noted = RetryAfter()
    token = _NOTED.set(noted)
    try:
        yield noted
    finally:
        _NOTED.reset(token)


class _RedirectedHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """twilio's aiohttp client, sending what it would send to api.twilio.com to ``base_url``."""

    def __init__(self, base_url: str | None) -> None:
        super().__init__(pool_connections=True)
        self._base_url = base_url.rstrip("/") if base_url else None

    async def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if self._base_url is not None and url.startswith(TWILIO_API_URL):
            url = self._base_url + url.removeprefix(TWILIO_API_URL)
        response = await super().request(method, url, *args, **kwargs)
        noted = _NOTED.get()
        if noted is not None and response.status_code in RETRY_AFTER_STATUSES:
            noted.seconds = parse_retry_after((response.headers or {}).get("Retry-After"))
        return response


class TwilioClient:
    """One Twilio account and its client, open between :meth:`open` and :meth:`close`."""

    def __init__(self, account: TwilioAccount, rate: RateLimit | None) -> None:
        self.account = account
        self.rate = rate
        """The account's pace: its configured ``rate`` or the provider's default."""
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
        """The create's ``From`` or messaging service."""
        if self.account.messaging_service_sid is not None:
            return {"messaging_service_sid": self.account.messaging_service_sid}
        assert self.account.sender_id is not None
        return {"from_": self.account.sender_id}

    def listing_filters(self) -> dict[str, str]:
        """What narrows a listing of our messages: the ``From``, unless a service sends."""
        sender = self.account.sender_id
        if sender is not None and self.account.messaging_service_sid is None:
            return {"from_": sender}
        return {}

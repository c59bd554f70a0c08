"""A local server that plays Twilio's Messages API: the SMS provider of the tests and the demo.

In the test's own event loop::

    sandbox = TwilioSandbox(account_sid, auth_token)
    await sandbox.start()              # 127.0.0.1, a free port; sandbox.base_url is now known
    ...                                # point TwilioAccount.base_url at sandbox.base_url
    await sandbox.settle()             # wait for every status callback to be delivered
    await sandbox.stop()

``POST /2010-04-01/Accounts/{sid}/Messages.json`` checks basic auth (401 otherwise), records the
message, answers 201 with a Twilio-like JSON body (``sid`` "SM" + 32 hex, ``status`` "queued"),
then, when ``StatusCallback`` was given, posts the callbacks "sent" and then "delivered" (or the
final status set for that number), form-encoded and signed with ``X-Twilio-Signature`` exactly as
Twilio signs them (:class:`twilio.request_validator.RequestValidator`).

A body over 1,600 characters (UTF-16 code units) is refused as Twilio refuses it: 400 with error
21617, nothing recorded.

``GET /2010-04-01/Accounts/{sid}/Messages.json`` lists the messages in Twilio's page format
(newest first, filtered by ``To`` and ``From``, at most ``PageSize``; ``date_created`` in RFC 2822),
with the same basic auth: what the sender reads to reconcile a create left without an answer.

Failures are injected deterministically: ``fail_next(429)`` answers the next create with 429 and
Twilio's error JSON, then behaves again (``fail_next(429, retry_after="3")`` adds the header
``Retry-After: 3``); ``create_times`` holds the ``time.monotonic()`` of every create that
reached the sandbox, answered or not; ``fail_next_list(500)`` does the same to the next list;
``lose_next("after_create")`` records the next create and never answers it (the answer is held
``stall_s`` seconds, then the connection is dropped), ``lose_next("before_create")`` drops the
connection without recording anything; ``final_status("+33600000009", "undelivered", 30005)``
makes every message to that number end that way; ``delay_s`` slows every answer and
``list_delay_s`` the lists only.

Twilio may call back before the sender has stored the message SID; the sandbox waits
``callback_delay_s`` before its first callback, and with ``hold_callbacks = True`` keeps them
until :meth:`release_callbacks`, so a test decides exactly when they arrive. With
``callbacks_before_answer = True`` every callback is delivered before the create is answered:
the sender hears of a SID it has not stored yet.

Callbacks go through ``deliver(url, params, headers) -> HTTP status``: by default a real HTTP
POST, and in tests a function posting to the app in-process. :meth:`send_inbound` posts an
inbound SMS (From, To, Body) to ``inbound_url``, signed the same way.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

Deliver = Callable[[str, dict[str, str], dict[str, str]], Awaitable[int]]
"""POST form ``params`` with ``headers`` to ``url``; returns the HTTP status."""

API_VERSION = "2010-04-01"
MAX_BODY_CHARS = 1600
"""Twilio's body limit; over it a create is refused with error 21617."""
_MESSAGES_PATH = f"/{API_VERSION}/Accounts/{{sid}}/Messages.json"
_ERROR_MESSAGES = {
    400: "The 'To' number is not a valid phone number.",
    401: "Authenticate",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}

_BODY_TOO_LONG = f"The concatenated message body exceeds the {MAX_BODY_CHARS} character limit."


@dataclass
class SmsMessage:
    """One message as the sandbox accepted it."""

    sid: str
    to: str
    body: str
    sender: str
    status_callback: str | None
    received_at: datetime
    callbacks: list[str] = field(default_factory=list)
    """The statuses posted back so far, in order."""
    via_service: bool = False
    """``sender`` is a messaging service SID (``MessagingServiceSid``), not a ``From``."""

    def resource(self, account_sid: str) -> dict[str, Any]:
        """The message as Twilio's API shows it (status "queued": the sandbox has no other)."""
        created = self.received_at.strftime("%a, %d %b %Y %H:%M:%S +0000")
        return {
            "sid": self.sid,
            "account_sid": account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "direction": "outbound-api",
            "from": None if self.via_service else self.sender,
            "messaging_service_sid": self.sender if self.via_service else None,
            "to": self.to,
            "status": "queued",
            "num_segments": "1",
            "num_media": "0",
            "error_code": None,
            "error_message": None,
            "price": None,
            "price_unit": "EUR",
            "date_created": created,
            "date_updated": created,
            "date_sent": None,
            "uri": f"/{API_VERSION}/Accounts/{account_sid}/Messages/{self.sid}.json",
            "subresource_uris": {},
        }


LossPoint = Literal["before_create", "after_create"]
"""Where a lost create is dropped: before the message is recorded, or after."""


@dataclass(frozen=True)
class _Failure:
    status: int
    code: int
    message: str
    retry_after: str | None = None


@dataclass(frozen=True)
class _FinalStatus:
    status: str
    error_code: int | None


class TwilioSandbox:
    """Twilio's Messages API for one account, on ``host:port``, accepting everything unless told
    otherwise."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        deliver: Deliver | None = None,
    ) -> None:
        self.account_sid = account_sid
        self.host = host
        self.port = port
        self.deliver: Deliver = deliver or _post_form
        self.inbound_url: str | None = None
        self.delay_s = 0.0
        self.list_delay_s = 0.0
        self.callback_delay_s = 0.2
        self.hold_callbacks = False
        self.callbacks_before_answer = False
        self.messages: list[SmsMessage] = []
        self.create_times: list[float] = []
        """``time.monotonic()`` of every create request received, in order."""
        self.callback_statuses: list[int] = []
        """HTTP status of every callback delivered, in order."""
        self._auth_token = auth_token
        self._validator = RequestValidator(auth_token)
        self._failures: deque[_Failure] = deque()
        self._list_failures: deque[_Failure] = deque()
        self._losses: deque[tuple[LossPoint, float]] = deque()
        self.lists: list[dict[str, str]] = []
        """The query of every list request answered, in order."""
        self._final: dict[str, _FinalStatus] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._held: list[SmsMessage] = []
        self._runner: web.AppRunner | None = None

    # -- running -------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post(_MESSAGES_PATH, self._create_message)
        app.router.add_get(_MESSAGES_PATH, self._list_messages)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def release_callbacks(self) -> None:
        """Send every held callback now and wait until all are delivered."""
        held, self._held = self._held, []
        for message in held:
            self._report_later(message, delay_s=0.0)
        await self.settle()

    async def settle(self, timeout_s: float = 10.0) -> None:
        """Wait until every status callback started so far has been delivered."""
        async with asyncio.timeout(timeout_s):
            while self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- what was received ---------------------------------------------------------------

    def by_recipient(self) -> dict[str, list[SmsMessage]]:
        received: dict[str, list[SmsMessage]] = {}
        for message in self.messages:
            received.setdefault(message.to, []).append(message)
        return received

    def clear(self) -> None:
        self.messages.clear()
        self.callback_statuses.clear()
        self.lists.clear()
        self.create_times.clear()

    # -- failure injection ---------------------------------------------------------------

    def set_auth_token(self, auth_token: str) -> None:
        """The account's token from now on (rotated on Twilio's side): requests signed with
        the old one are refused with 401 (error 20003)."""
        self._auth_token = auth_token
        self._validator = RequestValidator(auth_token)

    def fail_next(
        self,
        status: int,
        code: int | None = None,
        times: int = 1,
        message: str | None = None,
        *,
        retry_after: str | None = None,
    ) -> None:
        """Answer the next ``times`` creates with ``status`` and Twilio's error JSON (and a
        ``Retry-After`` header when given)."""
        text = message or _ERROR_MESSAGES.get(status, "Error")
        failure = _Failure(status, code if code is not None else 20000 + status, text, retry_after)
        self._failures.extend([failure] * times)

    def fail_next_list(self, status: int, code: int | None = None, times: int = 1) -> None:
        """Answer the next ``times`` list requests with ``status`` and Twilio's error JSON."""
        failure = _Failure(status, code if code is not None else 20000 + status, "Error")
        self._list_failures.extend([failure] * times)

    def lose_next(self, where: LossPoint, stall_s: float = 0.0, times: int = 1) -> None:
        """The next ``times`` creates get no answer: after ``stall_s`` seconds the connection is
        dropped, with the message recorded (``"after_create"``) or not (``"before_create"``)."""
        self._losses.extend([(where, stall_s)] * times)

    def final_status(
        self, number: str, status: str = "undelivered", error_code: int | None = 30005
    ) -> None:
        """Every message to ``number`` ends with ``status`` (and ``ErrorCode``) after "sent"."""
        self._final[number] = _FinalStatus(status, error_code)

    # -- inbound -------------------------------------------------------------------------

    async def send_inbound(self, sender: str, to: str, body: str) -> int:
        """Post an inbound SMS to :attr:`inbound_url`, signed; returns the HTTP status."""
        assert self.inbound_url is not None, "set inbound_url first"
        params = {
            "MessageSid": _new_sid(),
            "AccountSid": self.account_sid,
            "From": sender,
            "To": to,
            "Body": body,
            "NumMedia": "0",
            "ApiVersion": API_VERSION,
        }
        return await self._signed_post(self.inbound_url, params)

    # -- the API -------------------------------------------------------------------------

    async def _create_message(self, request: web.Request) -> web.Response:
        self.create_times.append(time.monotonic())
        if self.delay_s > 0:
            await asyncio.sleep(self.delay_s)
        if not self._authorised(request):
            return _error(_Failure(401, 20003, _ERROR_MESSAGES[401]))
        if self._failures:
            return _error(self._failures.popleft())
        form = {key: str(value) for key, value in (await request.post()).items()}
        loss = self._losses.popleft() if self._losses else None
        if loss is not None and loss[0] == "before_create":
            return await _drop(request, loss[1])
        if not form.get("To") or not (form.get("From") or form.get("MessagingServiceSid")):
            return _error(_Failure(400, 21604, "A 'To' and a 'From' are required."))
        if len(form.get("Body", "").encode("utf-16-le")) // 2 > MAX_BODY_CHARS:
            return _error(_Failure(400, 21617, _BODY_TOO_LONG))
        message = SmsMessage(
            sid=_new_sid(),
            to=form["To"],
            body=form.get("Body", ""),
            sender=form.get("From") or form["MessagingServiceSid"],
            status_callback=form.get("StatusCallback"),
            received_at=datetime.now(UTC),
            via_service=not form.get("From"),
        )
        self.messages.append(message)
        if message.status_callback and self.callbacks_before_answer:
            await self._report(message, delay_s=0.0)
        elif message.status_callback and self.hold_callbacks:
            self._held.append(message)
        elif message.status_callback:
            self._report_later(message, self.callback_delay_s)
        if loss is not None:
            return await _drop(request, loss[1])
        return web.json_response(message.resource(self.account_sid), status=201)

    async def _list_messages(self, request: web.Request) -> web.Response:
        if self.delay_s + self.list_delay_s > 0:
            await asyncio.sleep(self.delay_s + self.list_delay_s)
        if not self._authorised(request):
            return _error(_Failure(401, 20003, _ERROR_MESSAGES[401]))
        if self._list_failures:
            return _error(self._list_failures.popleft())
        query = dict(request.query)
        self.lists.append(query)
        try:
            page_size = max(1, min(int(query.get("PageSize", "50")), 1000))
        except ValueError:
            return _error(_Failure(400, 20001, "Invalid PageSize"))
        found = [
            m
            for m in reversed(self.messages)  # newest first, as Twilio lists them
            if query.get("To") in (None, m.to)
            and query.get("From") in (None, None if m.via_service else m.sender)
        ][:page_size]
        path = _MESSAGES_PATH.format(sid=self.account_sid)
        first = f"{path}?{urlencode({**query, 'PageSize': page_size, 'Page': 0})}"
        body = {
            "messages": [m.resource(self.account_sid) for m in found],
            "first_page_uri": first,
            "next_page_uri": None,
            "previous_page_uri": None,
            "page": 0,
            "page_size": page_size,
            "start": 0,
            "end": max(len(found) - 1, 0),
            "uri": f"{path}?{request.query_string}" if request.query_string else path,
        }
        return web.json_response(body)

    def _authorised(self, request: web.Request) -> bool:
        expected = f"{self.account_sid}:{self._auth_token}".encode()
        header = request.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic" or request.match_info["sid"] != self.account_sid:
            return False
        try:
            given = base64.b64decode(encoded, validate=True)
        except ValueError:
            return False
        return secrets.compare_digest(given, expected)

    def _report_later(self, message: SmsMessage, delay_s: float) -> None:
        task = asyncio.create_task(self._report(message, delay_s))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _report(self, message: SmsMessage, delay_s: float) -> None:
        assert message.status_callback is not None
        await asyncio.sleep(delay_s)
        final = self._final.get(message.to, _FinalStatus("delivered", None))
        for status in ("sent", final.status):
            params = {
                "MessageSid": message.sid,
                "SmsSid": message.sid,
                "AccountSid": self.account_sid,
                "MessageStatus": status,
                "SmsStatus": status,
                "To": message.to,
                "From": message.sender,
                "ApiVersion": API_VERSION,
            }
            if status == final.status and final.error_code is not None:
                params["ErrorCode"] = str(final.error_code)
            message.callbacks.append(status)
            status_code = await self._signed_post(message.status_callback, params)
            self.callback_statuses.append(status_code)

    async def _signed_post(self, url: str, params: dict[str, str]) -> int:
        signature = str(self._validator.compute_signature(url, params))
        return await self.deliver(url, params, {"X-Twilio-Signature": signature})


def _error(failure: _Failure) -> web.Response:
    body = {
        "code": failure.code,
        "message": failure.message,
        "more_info": f"https://www.twilio.com/docs/errors/{failure.code}",
        "status": failure.status,
    }
    headers = {"Retry-After": failure.retry_after} if failure.retry_after else None
    return web.json_response(body, status=failure.status, headers=headers)


async def _drop(request: web.Request, stall_s: float) -> web.Response:
    """Close the connection without an answer, after ``stall_s`` seconds."""
    await asyncio.sleep(stall_s)
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=500)  # never written: the connection is gone


def _new_sid() -> str:
    return "SM" + secrets.token_hex(16)


async def _post_form(url: str, params: dict[str, str], headers: dict[str, str]) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=params, headers=headers) as response,
    ):
        return response.status

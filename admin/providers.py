"""Provider callbacks: Twilio status callbacks and inbound SMS, checked by signature (RULES S1).

Thin: the signature check and what each callback says live in
:mod:`broadcast.channels.sms.callbacks`; applying it, in :mod:`broadcast.deliveries`.
A status callback is answered by :class:`StatusCallbackFastPath` before FastAPI's routing:
Twilio posts two per SMS, and one API process must take thousands a second.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request, Response
from starlette.datastructures import Headers, State
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from admin.deps import SettingsDep, UowDep
from broadcast.channels.base import ChannelName, ProviderStatus
from broadcast.channels.sms.callbacks import (
    INBOUND_PATH,
    STATUS_CALLBACK_PATH,
    parse_reply,
    parse_status,
    twilio_account_for,
)
from broadcast.core.db import transaction
from broadcast.core.metrics import CALLBACK_LAG, CALLBACKS, timed
from broadcast.core.outages import is_outage
from broadcast.deliveries.early_status import receive_status
from broadcast.deliveries.provider_status import apply_opt_out
from broadcast.settings import Settings

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

_EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def _public_url(settings: Settings, path: str, query: str) -> str:
    """The URL Twilio called and signed: the public one, not the one this process sees
    behind its proxy."""
    url = settings.public_base_url.rstrip("/") + path
    return f"{url}?{query}" if query else url


async def _signed_params(request: Request, settings: Settings) -> dict[str, str]:
    """The form parameters, once ``X-Twilio-Signature`` proves Twilio sent them; 403 otherwise.
    A caller that hangs up before its form is read gets nothing, and leaves one line in the
    log, not a traceback."""
    try:
        form = await request.form()
    except ClientDisconnect:
        log.info("a provider callback hung up before its form was read")
        raise HTTPException(status_code=400, detail="Requête interrompue.") from None
    params = {key: value for key, value in form.multi_items() if isinstance(value, str)}
    url = _public_url(settings, request.url.path, request.url.query)
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or twilio_account_for(settings, url, params, signature) is None:
        CALLBACKS.labels("twilio", "refused").inc()
        raise HTTPException(status_code=403, detail="Signature invalide.")
    return params


@router.post(STATUS_CALLBACK_PATH)
async def twilio_status(request: Request, settings: SettingsDep) -> Response:
    """A status callback :class:`StatusCallbackFastPath` left to the router: one it could not
    read as a plain form, or one whose signature is refused here (403)."""
    await _take_status(request.app.state, await _signed_params(request, settings))
    return Response(status_code=204)


async def _take_status(state: State, params: Mapping[str, str]) -> None:
    """Append a checked callback's status to the callback stream, with no database connection
    (:mod:`broadcast.deliveries.callback_stream`); apply it here only when Redis fails."""
    news = parse_status(params)
    if news is None:
        CALLBACKS.labels("twilio", "unchanged").inc()
        return
    try:
        await state.callbacks.append(ChannelName.sms, news)
        CALLBACKS.labels("twilio", "queued").inc()
    except Exception as exc:
        if not is_outage(exc):
            raise
        log.warning("callback stream unavailable (%s): status applied directly", type(exc).__name__)
        await _apply_directly(state, news)


async def _apply_directly(state: State, news: ProviderStatus) -> None:
    with timed(CALLBACK_LAG, "twilio"):
        async with transaction(state.session_factory) as session:
            moved = await receive_status(session, state.early_statuses, ChannelName.sms, news)
    CALLBACKS.labels("twilio", "applied" if moved else "unchanged").inc()


class StatusCallbackFastPath:
    """Twilio status callbacks taken before FastAPI's routing and dependencies: the route
    matching, the dependency solving and the form parser cost most of a callback (profiled).
    A form body is read, its signature checked, its status appended, and 204 answered.
    A callback signed wrongly, or not sent as a plain form, goes on to :func:`twilio_status`
    with its body, which refuses it as the API refuses anything. Placed inside the body
    limit and the security headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _is_form_post_to(scope, STATUS_CALLBACK_PATH):
            await self.app(scope, receive, send)
            return
        body = await _body(receive)
        if body is None:
            log.info("a provider callback hung up before its form was read")
            return
        state: State = scope["app"].state
        params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        query = scope.get("query_string", b"").decode("latin-1")
        url = _public_url(state.settings, scope["path"], query)
        signature = Headers(scope=scope).get("x-twilio-signature", "")
        if not signature or twilio_account_for(state.settings, url, params, signature) is None:
            await self.app(scope, _replayed(body, receive), send)
            return
        await _take_status(state, params)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def _is_form_post_to(scope: Scope, path: str) -> bool:
    if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != path:
        return False
    content_type = Headers(scope=scope).get("content-type", "").partition(";")[0].strip().lower()
    return content_type == "application/x-www-form-urlencoded"


async def _body(receive: Receive) -> bytes | None:
    """The whole request body; None when the client hung up first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replayed(body: bytes, receive: Receive) -> Receive:
    """A receive that gives ``body`` again, then whatever the connection says next."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


@router.post(INBOUND_PATH)
async def twilio_inbound(request: Request, uow: UowDep, settings: SettingsDep) -> Response:
    opt_out = parse_reply(await _signed_params(request, settings))
    if opt_out is not None:
        await apply_opt_out(uow.session, opt_out)
    return Response(content=_EMPTY_TWIML, media_type="text/xml")

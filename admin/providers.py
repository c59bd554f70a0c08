"""Provider callbacks: Twilio status callbacks and inbound SMS, checked by signature (RULES S1).

Thin: the signature check and what each callback says live in
:mod:`broadcast.channels.sms.callbacks`; applying it, in :mod:`broadcast.deliveries`.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, Request, Response
from starlette.requests import ClientDisconnect

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


async def _signed_params(request: Request, settings: Settings) -> dict[str, str]:
    """The form parameters, once ``X-Twilio-Signature`` proves Twilio sent them; 403 otherwise.

    The signature covers the public URL Twilio called, not the one this process sees behind
    its proxy, so the URL is rebuilt from ``public_base_url``. A caller that hangs up before
    its form is read gets nothing, and leaves one line in the log, not a traceback."""
    try:
        form = await request.form()
    except ClientDisconnect:
        log.info("a provider callback hung up before its form was read")
        raise HTTPException(status_code=400, detail="Requête interrompue.") from None
    params = {key: value for key, value in form.multi_items() if isinstance(value, str)}
    url = settings.public_base_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or twilio_account_for(settings, url, params, signature) is None:
        CALLBACKS.labels("twilio", "refused").inc()
        raise HTTPException(status_code=403, detail="Signature invalide.")
    return params


@router.post(STATUS_CALLBACK_PATH)
async def twilio_status(request: Request, settings: SettingsDep) -> Response:
    """Checked, appended to the callback stream and answered, with no database connection
    (:mod:`broadcast.deliveries.callback_stream`); applied here only when Redis fails."""
    news = parse_status(await _signed_params(request, settings))
    if news is None:
        CALLBACKS.labels("twilio", "unchanged").inc()
        return Response(status_code=204)
    try:
        await request.app.state.callbacks.append(ChannelName.sms, news)
        CALLBACKS.labels("twilio", "queued").inc()
    except Exception as exc:
        if not is_outage(exc):
            raise
        log.warning("callback stream unavailable (%s): status applied directly", type(exc).__name__)
        await _apply_directly(request, news)
    return Response(status_code=204)


async def _apply_directly(request: Request, news: ProviderStatus) -> None:
    early = request.app.state.early_statuses
    with timed(CALLBACK_LAG, "twilio"):
        async with transaction(request.app.state.session_factory) as session:
            moved = await receive_status(session, early, ChannelName.sms, news)
    CALLBACKS.labels("twilio", "applied" if moved else "unchanged").inc()


@router.post(INBOUND_PATH)
async def twilio_inbound(request: Request, uow: UowDep, settings: SettingsDep) -> Response:
    opt_out = parse_reply(await _signed_params(request, settings))
    if opt_out is not None:
        await apply_opt_out(uow.session, opt_out)
    return Response(content=_EMPTY_TWIML, media_type="text/xml")

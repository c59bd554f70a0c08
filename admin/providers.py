"""Provider callbacks: Twilio status callbacks and inbound SMS, checked by signature (RULES S1).

Thin: the signature check and what each callback says live in
:mod:`broadcast.channels.sms.callbacks`; applying it, in :mod:`broadcast.deliveries`.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response

from admin.deps import SettingsDep, UowDep
from broadcast.channels.base import ChannelName
from broadcast.channels.sms.callbacks import (
    INBOUND_PATH,
    STATUS_CALLBACK_PATH,
    parse_reply,
    parse_status,
    twilio_account_for,
)
from broadcast.core.metrics import CALLBACK_LAG, CALLBACKS, timed
from broadcast.deliveries.early_status import receive_status
from broadcast.deliveries.provider_status import apply_opt_out
from broadcast.settings import Settings

router = APIRouter(include_in_schema=False)

_EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


async def _signed_params(request: Request, settings: Settings) -> dict[str, str]:
    """The form parameters, once ``X-Twilio-Signature`` proves Twilio sent them; 403 otherwise.

    The signature covers the public URL Twilio called, not the one this process sees behind
    its proxy, so the URL is rebuilt from ``public_base_url``."""
    form = await request.form()
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
async def twilio_status(request: Request, uow: UowDep, settings: SettingsDep) -> Response:
    news = parse_status(await _signed_params(request, settings))
    moved = False
    if news is not None:
        early = request.app.state.early_statuses
        with timed(CALLBACK_LAG, "twilio"):
            moved = await receive_status(uow.session, early, ChannelName.sms, news)
    CALLBACKS.labels("twilio", "applied" if moved else "unchanged").inc()
    return Response(status_code=204)


@router.post(INBOUND_PATH)
async def twilio_inbound(request: Request, uow: UowDep, settings: SettingsDep) -> Response:
    opt_out = parse_reply(await _signed_params(request, settings))
    if opt_out is not None:
        await apply_opt_out(uow.session, opt_out)
    return Response(content=_EMPTY_TWIML, media_type="text/xml")

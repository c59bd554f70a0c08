"""Routes without an API key: health, one-click unsubscribe (RULES E1), the demo outbox; and /me."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from admin.deps import SettingsDep, UowDep, requires
from broadcast.accounts.permissions import Permission
from broadcast.accounts.service import Principal
from broadcast.directory.unsubscribe import unsubscribe
from broadcast.masking import mask_email
from broadcast.sandbox.smtp import SmtpSink

router = APIRouter(include_in_schema=False)
me_router = APIRouter(tags=["account"])

_PAGE = """<!doctype html><html lang="fr"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Désinscription</title><body style="font-family:sans-serif;max-width:36rem;margin:3rem auto">
{body}</body></html>"""


@router.get("/healthz")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/u/{token}", response_class=HTMLResponse)
async def unsubscribe_page(token: str) -> HTMLResponse:
    body = (
        "<h1>Ne plus recevoir ces messages</h1>"
        "<p>Vous ne recevrez plus d'avis par e-mail à cette adresse.</p>"
        f'<form method="post" action="/u/{token}"><button type="submit">'
        "Confirmer la désinscription</button></form>"
    )
    return HTMLResponse(_PAGE.format(body=body))


@router.post("/u/{token}", response_class=HTMLResponse)
async def unsubscribe_one_click(
    uow: UowDep,
    settings: SettingsDep,
    token: str,
) -> HTMLResponse:
    """Works without a session: the mail client's one-click POST or the page's button."""
    done = await unsubscribe(uow.session, settings.secret_key.get_secret_value(), token)
    if not done:
        return HTMLResponse(_PAGE.format(body="<h1>Lien invalide ou expiré.</h1>"), status_code=404)
    return HTMLResponse(_PAGE.format(body="<h1>C'est fait.</h1><p>Vous êtes désinscrit(e).</p>"))


@me_router.get("/me")
async def whoami(
    principal: Annotated[Principal, requires(Permission.organisations_read)],
) -> dict[str, Any]:
    return {
        "operator_id": principal.operator_id,
        "role": principal.role,
        "organisation_id": principal.organisation_id,
    }


def _text_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if isinstance(part, EmailMessage) else ""


def outbox_router(sink: SmtpSink) -> APIRouter:
    """The demo's view of what the local providers received, newest first, addresses masked."""
    outbox = APIRouter(include_in_schema=False)

    @outbox.get("/demo/outbox")
    async def captured(request: Request, limit: int = 50) -> dict[str, Any]:
        messages = sink.messages[-limit:][::-1]
        return {
            "total": len(sink.messages),
            "email": [
                {
                    "to": mask_email(m.to),
                    "subject": m.subject,
                    "received_at": m.received_at,
                    "text": _text_part(m.message),
                }
                for m in messages
            ],
        }

    return outbox

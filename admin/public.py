"""Routes without an API key: health, one-click unsubscribe (RULES E1), the demo outbox; and /me."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from admin.deps import SettingsDep, UowDep, requires
from admin.pages import page
from broadcast.accounts.permissions import Permission
from broadcast.accounts.service import Principal
from broadcast.channels.push.webpush import mask_endpoint
from broadcast.core.masking import mask_email, mask_phone
from broadcast.directory.unsubscribe import unsubscribe
from broadcast.sandbox.push import PushMessage, PushSandbox
from broadcast.sandbox.smtp import CapturedMessage, SmtpSink
from broadcast.sandbox.twilio import SmsMessage, TwilioSandbox

router = APIRouter(include_in_schema=False)
me_router = APIRouter(tags=["account"])


@router.get("/healthz")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/u/{token}", response_class=HTMLResponse)
async def unsubscribe_page(token: str) -> HTMLResponse:
    return page("unsubscribe.html", token=token)


@router.post("/u/{token}", response_class=HTMLResponse)
async def unsubscribe_one_click(
    uow: UowDep,
    settings: SettingsDep,
    token: str,
) -> HTMLResponse:
    """Works without a session: the mail client's one-click POST or the page's button."""
    done = await unsubscribe(uow.session, settings.secret_key.get_secret_value(), token)
    if not done:
        return page("unsubscribe_invalid.html", status_code=404)
    return page("unsubscribed.html")


@me_router.get("/me")
async def whoami(
    principal: Annotated[Principal, requires(Permission.organisations_read)],
) -> dict[str, Any]:
    return {
        "operator_id": principal.operator_id,
        "role": principal.role,
        "organisation_id": principal.organisation_id,
    }


@dataclass(frozen=True)
class DemoOutbox:
    """What the demo's local providers received: the SMTP sink and, when SMS and web push are
    on, the Twilio sandbox and the push sandbox."""

    smtp: SmtpSink
    twilio: TwilioSandbox | None = None
    push: PushSandbox | None = None

    def emails(self, limit: int) -> list[CapturedMessage]:
        return self.smtp.messages[-limit:][::-1] if limit > 0 else []

    def sms(self, limit: int) -> list[SmsMessage]:
        if self.twilio is None or limit <= 0:
            return []
        return self.twilio.messages[-limit:][::-1]

    def pushes(self, limit: int) -> list[PushMessage]:
        if self.push is None or limit <= 0:
            return []
        return self.push.messages[-limit:][::-1]

    def totals(self) -> dict[str, int]:
        return {
            "email": len(self.smtp.messages),
            "sms": len(self.twilio.messages) if self.twilio is not None else 0,
            "push": len(self.push.messages) if self.push is not None else 0,
        }


def _text_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if isinstance(part, EmailMessage) else ""


def _push_endpoint(push: PushSandbox | None, message: PushMessage) -> str:
    """The subscription, masked as in the logs: its endpoint is a capability URL."""
    origin = push.origin if push is not None else "http://push"
    return mask_endpoint(f"{origin}/push/{message.token}")


def _push_text(message: PushMessage, key: str) -> str:
    try:
        value = message.data.get(key, "") if isinstance(message.data, dict) else ""
    except ValueError:  # not JSON: the demo shows nothing rather than failing
        return ""
    return str(value)


def _sms_status(message: SmsMessage) -> str:
    """The last status the sandbox posted back; "queued" (its create answer) before any."""
    return message.callbacks[-1] if message.callbacks else "queued"


@dataclass(frozen=True)
class OutboxTable:
    title: str
    total: int
    headers: list[str]
    rows: list[list[str]]


def _when(moment: datetime) -> str:
    return moment.strftime("%d/%m/%Y %H:%M:%S UTC")


def _outbox_tables(outbox: DemoOutbox, limit: int) -> list[OutboxTable]:
    totals = outbox.totals()
    return [
        OutboxTable(
            "E-mails",
            totals["email"],
            ["Reçu le", "Destinataire", "Objet"],
            [[_when(m.received_at), mask_email(m.to), m.subject] for m in outbox.emails(limit)],
        ),
        OutboxTable(
            "SMS",
            totals["sms"],
            ["Reçu le", "Destinataire", "Statut", "Texte"],
            [
                [_when(m.received_at), mask_phone(m.to), _sms_status(m), m.body]
                for m in outbox.sms(limit)
            ],
        ),
        OutboxTable(
            "Notifications web",
            totals["push"],
            ["Reçu le", "Abonnement", "Urgence", "Titre", "Texte"],
            [
                [
                    _when(m.received_at),
                    _push_endpoint(outbox.push, m),
                    m.urgency,
                    _push_text(m, "title"),
                    _push_text(m, "body"),
                ]
                for m in outbox.pushes(limit)
            ],
        ),
    ]


def outbox_router(outbox: DemoOutbox) -> APIRouter:
    """The demo's view of what the local providers received, newest first, addresses masked:
    JSON at /demo/outbox, a page refreshing itself at /demo."""
    router = APIRouter(include_in_schema=False)

    @router.get("/demo/outbox")
    async def captured(request: Request, limit: int = 50) -> dict[str, Any]:
        return {
            "total": outbox.totals(),
            "email": [
                {
                    "to": mask_email(m.to),
                    "subject": m.subject,
                    "received_at": m.received_at,
                    "text": _text_part(m.message),
                }
                for m in outbox.emails(limit)
            ],
            "sms": [
                {
                    "to": mask_phone(m.to),
                    "body": m.body,
                    "status": _sms_status(m),
                    "received_at": m.received_at,
                }
                for m in outbox.sms(limit)
            ],
            "push": [
                {
                    "to": _push_endpoint(outbox.push, m),
                    "title": _push_text(m, "title"),
                    "body": _push_text(m, "body"),
                    "urgency": m.urgency,
                    "topic": m.topic,
                    "ttl": m.ttl,
                    "received_at": m.received_at,
                }
                for m in outbox.pushes(limit)
            ],
        }

    @router.get("/demo", response_class=HTMLResponse)
    async def outbox_page(limit: int = 50) -> HTMLResponse:
        return page("outbox.html", tables=_outbox_tables(outbox, limit))

    return router

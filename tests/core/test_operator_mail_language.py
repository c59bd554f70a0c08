"""Every email to an operator (invitation, password reset, approval request, reminder of a
promised update, provider alert) is written in his language: French unless he chose English.
Sent through the real relay path (:func:`send_to_operator`) to the aiosmtpd sink, read back as
the operator's mail program would show it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from broadcast.accounts.alerts import alert_message
from broadcast.accounts.links import IssuedLink, LinkPurpose, link_message
from broadcast.accounts.models import AuditEvent, Operator, OperatorLink
from broadcast.broadcasts.approval_mail import ApprovalRequest, approval_message
from broadcast.channels.health import CREDENTIALS_REFUSED
from broadcast.core.mail import send_to_operator
from broadcast.notices.models import Notice
from broadcast.notices.reminders import reminder_message
from broadcast.sandbox.smtp import CapturedMessage, SmtpSink
from broadcast.settings import Settings, SmtpRelay

EXPIRES = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)  # 10:30 in Paris


@pytest.fixture
async def relay() -> AsyncIterator[SmtpSink]:
    sink = SmtpSink()
    await sink.start()
    yield sink
    await sink.stop()


def _operator(locale: str) -> Operator:
    return Operator(
        id=3,
        email=f"claire.{locale}@ac-test.fr",
        display_name="Claire Martin",
        role="academie_officer",
        organisation_id=1,
        locale=locale,
    )


def _link(purpose: LinkPurpose) -> IssuedLink:
    row = OperatorLink(token_hash="0" * 64, operator_id=3, purpose=purpose, expires_at=EXPIRES)
    return IssuedLink(token="jeton-a-usage-unique", row=row)


async def _received(settings: Settings, relay: SmtpSink, message: object) -> CapturedMessage:
    relayed = settings.model_copy(
        update={"smtp_relays": [SmtpRelay(name="relais", port=relay.port, timeout_s=5)]}
    )
    await send_to_operator(relayed, message)  # type: ignore[arg-type]
    [received] = relay.messages
    relay.clear()
    return received


def _text(message: CapturedMessage) -> str:
    part = message.message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


async def test_the_invitation_and_the_reset_link_speak_the_operators_language(
    settings: Settings, relay: SmtpSink
) -> None:
    french = await _received(
        settings,
        relay,
        link_message(
            settings, _operator("fr"), _link(LinkPurpose.invitation), invited_by="Paul Durand"
        ),
    )
    assert french.subject == "Votre accès à la console de diffusion"
    assert french.rcpt_tos == ["claire.fr@ac-test.fr"]
    assert "Bonjour Claire Martin," in _text(french)
    assert "Paul Durand vous invite" in _text(french)
    assert "jusqu'au 4 décembre 2026 à 10 h 30" in _text(french)

    english = await _received(
        settings,
        relay,
        link_message(
            settings, _operator("en"), _link(LinkPurpose.invitation), invited_by="Paul Durand"
        ),
    )
    assert english.subject == "Your access to the broadcast console"
    assert "Hello Claire Martin," in _text(english)
    assert "Paul Durand invites you to use the broadcast console" in _text(english)
    assert "/console/lien/jeton-a-usage-unique" in _text(english)
    assert "invite" not in english.subject and "vous" not in _text(english)

    reset = await _received(
        settings, relay, link_message(settings, _operator("en"), _link(LinkPurpose.reset))
    )
    assert reset.subject == "New password for the broadcast console"
    assert "your current password stays valid" in _text(reset)


async def test_the_approval_request_speaks_each_approvers_language(
    settings: Settings, relay: SmtpSink
) -> None:
    request = ApprovalRequest(
        broadcast_id=42,
        notice_title="ENT indisponible",
        requester="Paul Durand",
        recipients=48212,
        sms_segments=51030,
        channels=["sms", "email"],
        reasons=["audience_above_school"],
    )
    french = await _received(settings, relay, approval_message(settings, request, _operator("fr")))
    english = await _received(settings, relay, approval_message(settings, request, _operator("en")))
    assert french.subject == "Approbation demandée : diffusion n° 42"
    assert "Paul Durand demande l'envoi de la diffusion n° 42" in _text(french)
    assert "l'audience dépasse un établissement" in _text(french)
    assert english.subject == "Approval requested: broadcast no. 42"
    assert "Paul Durand asks to send the broadcast no. 42" in _text(english)
    assert "A second approval is needed: the audience goes beyond one school." in _text(english)
    html = english.message.get_body(("html",))
    assert html is not None and '<html lang="en">' in str(html.get_content())
    assert "/console/approbations/42" in _text(english)


async def test_the_reminder_and_the_provider_alert_speak_the_operators_language(
    settings: Settings, relay: SmtpSink
) -> None:
    notice = Notice(id=7, title="ENT indisponible", next_update_at=EXPIRES + timedelta(hours=1))
    english = await _received(settings, relay, reminder_message(settings, notice, _operator("en")))
    assert english.subject == "Update promised at 11:30 AM: ENT indisponible"

    event = AuditEvent(
        action="provider.account_paused",
        details={"channel": "sms", "account": "principal", "reason": CREDENTIALS_REFUSED},
    )
    french = await _received(settings, relay, alert_message(settings, event, _operator("fr")))
    assert french.subject == "Compte SMS « principal » en pause"
    assert "est en pause : le fournisseur refuse nos identifiants." in _text(french)
    alert = await _received(settings, relay, alert_message(settings, event, _operator("en")))
    assert alert.subject == "SMS account “principal” paused"
    assert "is paused: the provider refuses our credentials." in _text(alert)
    assert "BROADCAST_TWILIO_ACCOUNTS" in _text(alert)

"""Provider trouble told to the platform admins by email (issue 13, item 3): when an account
of a provider is paused (its credentials refused, or failing again and again), the audit entry
written with the results asks for this job, which emails every active platform admin once. The
webhook event ``broadcast.held`` and the metric of paused accounts say it too."""

from __future__ import annotations

import logging
from email.message import EmailMessage

from sqlalchemy import select
from sqlmodel import col

from broadcast.accounts.models import AuditEvent, Operator, Role
from broadcast.channels.health import CREDENTIALS_REFUSED, FAILING
from broadcast.core.db import SessionFactory, transaction
from broadcast.core.mail import operator_email, send_to_operator
from broadcast.settings import Settings

log = logging.getLogger(__name__)

CHANNEL_FR = {"email": "e-mail", "sms": "SMS", "push": "notification"}
CHANNEL_EN = {"email": "Email", "sms": "SMS", "push": "Push"}
REASONS_EN = {
    CREDENTIALS_REFUSED: "the provider refuses our credentials",
    FAILING: "the provider no longer answers",
}
SETTING_OF = {"email": "BROADCAST_SMTP_RELAYS", "sms": "BROADCAST_TWILIO_ACCOUNTS"}


def alert_message(settings: Settings, event: AuditEvent, admin: Operator) -> EmailMessage:
    """The alert in the admin's language (French unless he chose English)."""
    details = event.details
    channel = str(details.get("channel", ""))
    account = str(details.get("account", ""))
    reason = str(details.get("reason") or "")
    words = _alert_en if admin.locale == "en" else _alert_fr
    subject, text = words(channel, account, reason)
    return operator_email(settings, admin.email, subject, text)


def _alert_fr(channel: str, account: str, reason: str) -> tuple[str, str]:
    kind = CHANNEL_FR.get(channel, channel)
    why = reason.removeprefix("en pause : ") or "il échoue sans cesse"
    return f"Compte {kind} « {account} » en pause", (
        f"Bonjour,\n\nLe compte « {account} » ({kind}) est en pause : {why}.\n\n"
        "Les messages qu'il devait envoyer restent en file d'attente : un autre compte les "
        "envoie s'il en existe un, sinon ils partiront dès que celui-ci sera de nouveau "
        "accepté par le fournisseur (il est essayé de nouveau régulièrement).\n\n"
        f"Vérifiez ses identifiants dans la configuration ({SETTING_OF.get(channel, '')}), "
        "puis redémarrez les workers.\n"
    )


def _alert_en(channel: str, account: str, reason: str) -> tuple[str, str]:
    kind = CHANNEL_EN.get(channel, channel)
    why = REASONS_EN.get(reason, "it keeps failing")
    return f"{kind} account “{account}” paused", (
        f"Hello,\n\nThe account “{account}” ({kind}) is paused: {why}.\n\n"
        "The messages it was to send stay queued: another account sends them if there is one, "
        "otherwise they leave as soon as the provider accepts this one again (it is tried "
        "again regularly).\n\n"
        f"Check its credentials in the configuration ({SETTING_OF.get(channel, '')}), "
        "then restart the workers.\n"
    )


async def notify_platform_admins(factory: SessionFactory, settings: Settings, event_id: int) -> int:
    """Email the alert of audit entry ``event_id`` to every active platform admin; how many."""
    async with transaction(factory) as session:
        event = await session.get(AuditEvent, event_id)
        if event is None:
            return 0
        admins = (
            await session.execute(
                select(Operator).where(
                    col(Operator.role) == Role.platform_admin, col(Operator.active).is_(True)
                )
            )
        ).scalars()
        recipients = list(admins)
    for admin in recipients:
        await send_to_operator(settings, alert_message(settings, event, admin))
    log.info("provider alert %s sent to %d platform admin(s)", event.action, len(recipients))
    return len(recipients)

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
from broadcast.core.db import SessionFactory, transaction
from broadcast.core.mail import send_to_operator
from broadcast.settings import Settings

log = logging.getLogger(__name__)

CHANNEL_FR = {"email": "e-mail", "sms": "SMS", "push": "notification"}
SETTING_OF = {"email": "BROADCAST_SMTP_RELAYS", "sms": "BROADCAST_TWILIO_ACCOUNTS"}


def alert_message(settings: Settings, event: AuditEvent, address: str) -> EmailMessage:
    details = event.details
    channel = str(details.get("channel", ""))
    account = str(details.get("account", ""))
    reason = str(details.get("reason") or "il échoue sans cesse").removeprefix("en pause : ")
    message = EmailMessage()
    message["From"] = settings.email_from
    message["To"] = address
    message["Subject"] = f"Compte {CHANNEL_FR.get(channel, channel)} « {account} » en pause"
    message.set_content(
        f"Bonjour,\n\nLe compte « {account} » ({CHANNEL_FR.get(channel, channel)}) est en pause : "
        f"{reason}.\n\n"
        "Les messages qu'il devait envoyer restent en file d'attente : un autre compte les "
        "envoie s'il en existe un, sinon ils partiront dès que celui-ci sera de nouveau "
        "accepté par le fournisseur (il est essayé de nouveau régulièrement).\n\n"
        f"Vérifiez ses identifiants dans la configuration ({SETTING_OF.get(channel, '')}), "
        "puis redémarrez les workers.\n"
    )
    return message


async def notify_platform_admins(factory: SessionFactory, settings: Settings, event_id: int) -> int:
    """Email the alert of audit entry ``event_id`` to every active platform admin; how many."""
    async with transaction(factory) as session:
        event = await session.get(AuditEvent, event_id)
        if event is None:
            return 0
        admins = (
            await session.execute(
                select(col(Operator.email)).where(
                    col(Operator.role) == Role.platform_admin, col(Operator.active).is_(True)
                )
            )
        ).scalars()
        addresses = list(admins)
    for address in addresses:
        await send_to_operator(settings, alert_message(settings, event, address))
    log.info("provider alert %s sent to %d platform admin(s)", event.action, len(addresses))
    return len(addresses)

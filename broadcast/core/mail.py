"""Mail to operators (approval requests, reminders of a promised update, provider alerts): one
message through the configured SMTP relays in settings order, outside the channels' pools, which
carry the notices. A relay that refuses us (down, 421, our credentials refused with 535) hands
the message to the next one: the alert that a relay refuses our credentials must not depend on
that relay."""

from __future__ import annotations

import logging
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib

from broadcast.settings import Settings, SmtpRelay

log = logging.getLogger(__name__)


def operator_email(
    settings: Settings, to: str, subject: str, text: str, html: str | None = None
) -> EmailMessage:
    """One message to one operator, from the service's address, with a Message-ID of its
    domain; ``subject`` kept to one line of at most 200 characters."""
    message = EmailMessage()
    message["Subject"] = " ".join(subject.split())[:200]
    message["From"] = Address(settings.email_from_name, addr_spec=settings.email_from)
    message["To"] = to
    message["Message-ID"] = make_msgid(domain=settings.email_from.rpartition("@")[2])
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


async def send_to_operator(settings: Settings, message: EmailMessage) -> None:
    """Send through the first relay that takes the message; the last relay's error otherwise."""
    *others, last = settings.smtp_relays
    for relay in others:
        try:
            await _send_through(relay, message)
            return
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            log.warning("operator mail: relay %s refused it (%s), trying the next", relay.name, exc)
    await _send_through(last, message)


async def _send_through(relay: SmtpRelay, message: EmailMessage) -> None:
    password = relay.password.get_secret_value() if relay.password else None
    await aiosmtplib.send(
        message,
        hostname=relay.host,
        port=relay.port,
        username=relay.username if password is not None else None,
        password=password,
        use_tls=relay.tls == "implicit",
        start_tls=relay.tls == "starttls",
        timeout=relay.timeout_s,
    )

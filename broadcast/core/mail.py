"""Mail to operators (approval requests, reminders of a promised update, provider alerts): one
message through the configured SMTP relays in settings order, outside the channels' pools, which
carry the notices. A relay that refuses us (down, 421, our credentials refused with 535) hands
the message to the next one: the alert that a relay refuses our credentials must not depend on
that relay."""

from __future__ import annotations

import logging
from email.message import EmailMessage

import aiosmtplib

from broadcast.settings import Settings, SmtpRelay

log = logging.getLogger(__name__)


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

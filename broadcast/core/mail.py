"""Mail to operators (approval requests, reminders of a promised update): one message through
the first configured SMTP relay, outside the channels' pools, which carry the notices."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from broadcast.settings import Settings, SmtpRelay


async def send_to_operator(settings: Settings, message: EmailMessage) -> None:
    relay: SmtpRelay = settings.smtp_relays[0]
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

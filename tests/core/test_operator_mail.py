"""Mail to operators goes through the relays in settings order: a relay that refuses our
credentials (535) or is down hands the message to the next, so that the alert saying a relay
refuses us still reaches the platform admins. Real SMTP sinks, through aiosmtplib."""

from __future__ import annotations

from collections.abc import AsyncIterator
from email.message import EmailMessage

import pytest
from aiosmtplib import SMTPAuthenticationError
from pydantic import SecretStr

from broadcast.core.mail import send_to_operator
from broadcast.sandbox.smtp import SmtpSink
from broadcast.settings import Settings, SmtpRelay

LOGIN = ("broadcast", "le-bon-mot-de-passe")


@pytest.fixture
async def guarded() -> AsyncIterator[SmtpSink]:
    """A relay that wants a login: ours is refused unless it is :data:`LOGIN`."""
    sink = SmtpSink(login=LOGIN)
    await sink.start()
    yield sink
    await sink.stop()


@pytest.fixture
async def open_relay() -> AsyncIterator[SmtpSink]:
    sink = SmtpSink()
    await sink.start()
    yield sink
    await sink.stop()


def _relay(name: str, port: int, password: str | None = None) -> SmtpRelay:
    return SmtpRelay(
        name=name,
        port=port,
        username=LOGIN[0] if password else None,
        password=SecretStr(password) if password else None,
        timeout_s=5,
    )


def _message() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "broadcast@test.fr"
    message["To"] = "admin@test.fr"
    message["Subject"] = "Compte SMS « principal » en pause"
    message.set_content("Le fournisseur refuse nos identifiants.")
    return message


async def test_a_relay_refusing_our_credentials_hands_the_mail_to_the_next(
    settings: Settings, guarded: SmtpSink, open_relay: SmtpSink
) -> None:
    relays = [_relay("relais1", guarded.port, "mauvais"), _relay("relais2", open_relay.port)]
    await send_to_operator(settings.model_copy(update={"smtp_relays": relays}), _message())
    assert guarded.logins_refused >= 1 and guarded.messages == []
    [mail] = open_relay.messages
    assert mail.rcpt_tos == ["admin@test.fr"] and "en pause" in mail.subject


async def test_a_relay_that_is_down_hands_the_mail_to_the_next(
    settings: Settings, open_relay: SmtpSink
) -> None:
    closed = SmtpSink()
    await closed.start()
    closed_port = closed.port
    await closed.stop()
    relays = [_relay("relais1", closed_port), _relay("relais2", open_relay.port)]
    await send_to_operator(settings.model_copy(update={"smtp_relays": relays}), _message())
    assert [m.rcpt_tos for m in open_relay.messages] == [["admin@test.fr"]]


async def test_the_first_relay_that_accepts_is_the_only_one_used(
    settings: Settings, guarded: SmtpSink, open_relay: SmtpSink
) -> None:
    relays = [_relay("relais1", guarded.port, LOGIN[1]), _relay("relais2", open_relay.port)]
    await send_to_operator(settings.model_copy(update={"smtp_relays": relays}), _message())
    assert len(guarded.messages) == 1 and open_relay.messages == []


async def test_when_every_relay_refuses_the_last_refusal_is_raised(
    settings: Settings, guarded: SmtpSink
) -> None:
    relays = [_relay("relais1", guarded.port, "mauvais"), _relay("relais2", guarded.port, "x")]
    with pytest.raises(SMTPAuthenticationError) as refused:
        await send_to_operator(settings.model_copy(update={"smtp_relays": relays}), _message())
    assert refused.value.code == 535
    assert guarded.logins_refused >= 2 and guarded.messages == []

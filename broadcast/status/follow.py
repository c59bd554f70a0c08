"""Following a status page by email, without an account: double opt-in, then one click to stop.

1. The page's form (:func:`request_email_follow`) records an :class:`EmailFollowRequest` whose
   link carries a random token (only its SHA-256 is kept) and sends that link to the address.
2. Opening the link and pressing its button (:func:`confirm_email_follow`) makes the address a
   follower of the organisation: a :class:`Contact` of role ``follower`` with one email contact
   point, the same shape as a web-push follower, so that notifying followers is a broadcast like
   any other. The link works once, before it expires. A GET only shows the button: mail scanners
   that open links do not confirm anything.
3. Every message to followers is non-urgent and so carries the one-click unsubscribe of RULES E1;
   unsubscribing also forgets the address's follows (:mod:`broadcast.directory.unsubscribe`).

A family following the académie and its school holds two follower contacts with one address: a
broadcast of an académie update reaches both, and the ledger's unique (broadcast, channel,
address) sends it once (RULES D1). Services take a session and never commit.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import make_msgid
from html import escape

import aiosmtplib
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.channels.base import ChannelName
from broadcast.core.errors import DomainError, InvalidInput, NotFound
from broadcast.core.masking import mask_email
from broadcast.core.sqlutil import row_id
from broadcast.directory.models import Contact, ContactPoint, ContactRole, Organisation
from broadcast.directory.service import unsuppress
from broadcast.settings import Settings, SmtpRelay
from broadcast.status.models import EmailFollowRequest
from broadcast.status.texts import FOLLOW_MAIL

log = logging.getLogger(__name__)

EMAIL = ChannelName.email.value
CONFIRM_WITHIN = timedelta(days=3)
CONFIRM_PATH = "/follow/"


class LinkNotValid(DomainError):
    status_code = 404
    code = "follow_link_not_valid"
    message_fr = "Ce lien de confirmation n'est pas valable : il a déjà servi ou il a expiré."
    message_en = "This confirmation link is not valid: it was already used or it expired."


class TooManyFollowRequests(DomainError):
    status_code = 429
    code = "too_many_requests"
    message_fr = "Trop de demandes : veuillez réessayer dans quelques minutes."
    message_en = "Too many requests: please try again in a few minutes."


class ConfirmationNotSent(DomainError):
    status_code = 503
    code = "confirmation_not_sent"
    message_fr = (
        "L'e-mail de confirmation n'a pas pu être envoyé. Veuillez réessayer dans quelques minutes."
    )
    message_en = "The confirmation email could not be sent. Please try again in a few minutes."


@dataclass(frozen=True, slots=True)
class PendingFollow:
    request: EmailFollowRequest
    organisation: Organisation
    token: str
    """The secret of the link; sent to the address, never stored."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalised_email(value: str) -> str:
    """The address as the ledger stores it; a French 422 for anything that is not one."""
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidInput(
            "Cette adresse e-mail n'est pas valide : vérifiez-la "
            "(exemple : prenom.nom@exemple.fr).",
            "This email address is not valid: check it (example: first.last@example.com).",
        ) from exc


async def followed_organisation(session: AsyncSession, code: str) -> Organisation:
    organisation = await session.scalar(select(Organisation).where(col(Organisation.code) == code))
    if organisation is None:
        raise NotFound("Cette page d'état des services n'existe pas.", "No such status page.")
    return organisation


async def request_email_follow(
    session: AsyncSession, code: str, email: str, locale: str, now: datetime
) -> PendingFollow:
    """Record the wish to follow ``code``'s page; the address follows once it confirms."""
    organisation = await followed_organisation(session, code)
    token = secrets.token_urlsafe(32)
    request = EmailFollowRequest(
        token_hash=token_hash(token),
        organisation_id=row_id(organisation),
        email=normalised_email(email),
        locale=locale if locale in ("fr", "en") else "fr",
        created_at=now,
        expires_at=now + CONFIRM_WITHIN,
    )
    session.add(request)
    await session.flush()
    return PendingFollow(request, organisation, token)


async def pending_request(session: AsyncSession, token: str, now: datetime) -> EmailFollowRequest:
    """The request a link names while it may still be confirmed; 404 otherwise."""
    if not 20 <= len(token) <= 100:
        raise LinkNotValid()
    request = await session.scalar(
        select(EmailFollowRequest).where(col(EmailFollowRequest.token_hash) == token_hash(token))
    )
    if request is None or request.confirmed_at is not None or request.expires_at <= now:
        raise LinkNotValid()
    return request


async def organisation_of(session: AsyncSession, request: EmailFollowRequest) -> Organisation:
    organisation = await session.get(Organisation, request.organisation_id)
    if organisation is None:
        raise LinkNotValid()
    return organisation


async def confirm_email_follow(session: AsyncSession, token: str, now: datetime) -> Organisation:
    """The link's one use: the address now follows the page. Its earlier one-click unsubscribe,
    if any, is lifted: confirming from the mailbox itself is a fresh consent."""
    request = await pending_request(session, token, now)
    request.confirmed_at = now
    organisation = await organisation_of(session, request)
    await add_email_follower(session, organisation, request.email, request.locale)
    await unsuppress(session, EMAIL, request.email)
    return organisation


async def add_email_follower(
    session: AsyncSession, organisation: Organisation, email: str, locale: str
) -> Contact:
    """The address's follower contact for ``organisation``: found again, or created."""
    existing = await session.scalar(
        select(Contact)
        .join(ContactPoint, col(ContactPoint.contact_id) == col(Contact.id))
        .where(
            col(Contact.organisation_id) == organisation.id,
            col(Contact.role) == ContactRole.follower,
            col(ContactPoint.channel) == EMAIL,
            col(ContactPoint.address) == email,
        )
    )
    if existing is not None:
        existing.locale = locale
        return existing
    contact = Contact(
        organisation_id=row_id(organisation), role=ContactRole.follower, locale=locale
    )
    session.add(contact)
    await session.flush()
    session.add(ContactPoint(contact_id=row_id(contact), channel=EMAIL, address=email))
    await session.flush()
    return contact


def confirmation_url(settings: Settings, token: str) -> str:
    return settings.public_base_url.rstrip("/") + CONFIRM_PATH + token


def confirmation_message(settings: Settings, pending: PendingFollow) -> EmailMessage:
    """Plain text and HTML, in the follower's language; no unsubscribe: nothing follows yet."""
    words = FOLLOW_MAIL[pending.request.locale]
    link = confirmation_url(settings, pending.token)
    text = words["text"].format(name=pending.organisation.name, link=link)
    message = EmailMessage()
    message["Subject"] = words["subject"].format(name=pending.organisation.name)
    message["From"] = Address(settings.email_from_name, addr_spec=settings.email_from)
    message["To"] = pending.request.email
    message["Message-ID"] = make_msgid(domain=settings.email_from.rpartition("@")[2])
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(_html(text, link, pending.request.locale), subtype="html")
    return message


def _html(text: str, link: str, locale: str) -> str:
    body = escape(text).replace(escape(link), f'<a href="{escape(link)}">{escape(link)}</a>', 1)
    paragraphs = "".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in body.split("\n\n"))
    return f'<!doctype html><html lang="{locale}"><body>{paragraphs}</body></html>'


async def send_confirmation(settings: Settings, pending: PendingFollow) -> None:
    """Through the first configured SMTP relay; a failure is a French 503, so that the person
    knows to try again (the request is then not kept)."""
    relay: SmtpRelay = settings.smtp_relays[0]
    password = relay.password.get_secret_value() if relay.password else None
    try:
        await aiosmtplib.send(
            confirmation_message(settings, pending),
            hostname=relay.host,
            port=relay.port,
            username=relay.username if password is not None else None,
            password=password,
            use_tls=relay.tls == "implicit",
            start_tls=relay.tls == "starttls",
            timeout=relay.timeout_s,
        )
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        log.warning(
            "follow confirmation to %s not sent: %s",
            mask_email(pending.request.email),
            type(exc).__name__,
        )
        raise ConfirmationNotSent() from exc
    log.info("follow confirmation sent to %s", mask_email(pending.request.email))

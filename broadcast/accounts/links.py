"""One-time links emailed to operators (issue 11, item 1): an invitation to choose a first
password, and a password reset.

The link holds a random token (256 bits); the table keeps its SHA-256 only, so that a copy of
the database opens no account. An invitation is good for 72 hours, a reset for one hour; a
newer link of the operator replaces his older ones; a link serves once. A used, replaced or
expired link is :class:`LinkGone` (410). Setting the password through a link closes every other
session of the operator. A reset is asked for by address: the answer is the same whether the
address has an account or not, and the requests are throttled per address asked for and per
client address (Redis), whatever the address. The console sends the email once the transaction
committed (:func:`link_message`, through :func:`broadcast.core.mail.send_to_operator`).
"""

from __future__ import annotations

import enum
import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from redis.asyncio import Redis
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.accounts.models import Operator, OperatorLink
from broadcast.accounts.service import audit, principal_for
from broadcast.accounts.signin import close_all_sessions, set_password
from broadcast.core.errors import DomainError
from broadcast.core.mail import operator_email, send_to_operator
from broadcast.core.masking import mask_email
from broadcast.core.sqlutil import row_id
from broadcast.core.timeutil import utcnow
from broadcast.directory.models import Organisation
from broadcast.settings import Settings
from broadcast.status.timefmt import date_and_clock

log = logging.getLogger(__name__)


class LinkPurpose(enum.StrEnum):
    invitation = "invitation"
    reset = "reset"


VALIDITY = {LinkPurpose.invitation: timedelta(hours=72), LinkPurpose.reset: timedelta(hours=1)}
LINK_PATH = "/console/lien/"
MAX_TOKEN_LENGTH = 100

RESET_PER_ACCOUNT = 3
"""Reset requests for one address in :data:`RESET_WINDOW_S`, whether it has an account or not."""
RESET_PER_ADDRESS = 10
"""Reset requests from one client address in :data:`RESET_WINDOW_S`."""
RESET_WINDOW_S = 60 * 60


class LinkGone(DomainError):
    status_code = 410
    code = "link_gone"
    message_fr = (
        "Ce lien n'est plus valable : il a déjà servi, un lien plus récent l'a remplacé, ou "
        "son délai est passé. Demandez un nouveau lien."
    )
    message_en = (
        "This link is no longer valid: it was used, a newer link replaced it, or it expired. "
        "Ask for a new link."
    )


class TooManyResets(DomainError):
    status_code = 429
    code = "too_many_resets"
    message_fr = (
        "Trop de demandes de nouveau mot de passe. Patientez une heure, ou demandez à "
        "l'administrateur de votre académie de vous envoyer un lien."
    )
    message_en = "Too many password requests. Wait an hour, or ask your administrator for a link."


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedLink:
    """A link just made: its token (to email, never stored) and its row."""

    token: str
    row: OperatorLink


async def issue_link(
    session: AsyncSession, operator: Operator, purpose: LinkPurpose, *, now: datetime | None = None
) -> IssuedLink:
    """A new link for the operator; his earlier unused links stop working."""
    operator_id = row_id(operator)
    await session.execute(
        delete(OperatorLink).where(
            col(OperatorLink.operator_id) == operator_id, col(OperatorLink.used_at).is_(None)
        )
    )
    token = secrets.token_urlsafe(32)
    created = now or utcnow()
    row = OperatorLink(
        token_hash=_token_hash(token),
        operator_id=operator_id,
        purpose=purpose,
        created_at=created,
        expires_at=created + VALIDITY[purpose],
    )
    session.add(row)
    await session.flush()
    return IssuedLink(token, row)


async def find_link(
    session: AsyncSession, token: str, *, now: datetime | None = None
) -> tuple[OperatorLink, Operator]:
    """The live link of ``token`` and its operator, else :class:`LinkGone`."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise LinkGone()
    found = (
        await session.execute(
            select(OperatorLink, Operator)
            .join(Operator, col(Operator.id) == col(OperatorLink.operator_id))
            .where(col(OperatorLink.token_hash) == _token_hash(token))
        )
    ).first()
    if found is None:
        raise LinkGone()
    link, operator = found
    if link.used_at is not None or (now or utcnow()) >= link.expires_at or not operator.active:
        raise LinkGone()
    return link, operator


async def use_link(
    session: AsyncSession, token: str, password: str, *, now: datetime | None = None
) -> tuple[OperatorLink, Operator]:
    """The operator's new password set through the link, which is then spent; his sessions
    are all closed (the caller opens the new one). A weak password is refused
    (:class:`broadcast.accounts.signin.WeakPassword`) and the link stays good."""
    link, operator = await find_link(session, token, now=now)
    set_password(operator, password)
    link.used_at = now or utcnow()
    await close_all_sessions(session, row_id(operator))
    return link, operator


async def request_reset(session: AsyncSession, email: str) -> IssuedLink | None:
    """A reset link for the active operator of ``email``, or ``None`` when there is none;
    both audited (the unknown address masked, with no organisation)."""
    email = email.strip().lower()
    operator = await session.scalar(
        select(Operator).where(col(Operator.email) == email, col(Operator.active).is_(True))
    )
    if operator is None:
        audit(session, None, "password.reset_unknown", details={"email": mask_email(email)})
        return None
    issued = await issue_link(session, operator, LinkPurpose.reset)
    await _audit_operator(session, operator, "password.reset_requested")
    return issued


async def complete_link(
    session: AsyncSession, token: str, password: str, *, now: datetime | None = None
) -> Operator:
    """:func:`use_link`, audited as the accepted invitation or the password reset."""
    link, operator = await use_link(session, token, password, now=now)
    action = (
        "operator.invitation_accepted"
        if link.purpose == LinkPurpose.invitation
        else "password.reset"
    )
    await _audit_operator(session, operator, action)
    return operator


async def _audit_operator(session: AsyncSession, operator: Operator, action: str) -> None:
    organisation = await session.get(Organisation, operator.organisation_id)
    assert organisation is not None
    audit(
        session,
        principal_for(operator, organisation),
        action,
        organisation_id=operator.organisation_id,
        object_type="operator",
        object_id=operator.id,
    )


def link_url(settings: Settings, token: str) -> str:
    return f"{settings.public_base_url}{LINK_PATH}{token}"


def link_message(
    settings: Settings, operator: Operator, issued: IssuedLink, *, invited_by: str | None = None
) -> EmailMessage:
    """The email carrying the link, in the operator's language (French unless he chose English),
    to his address only."""
    locale = "en" if operator.locale == "en" else "fr"
    url = link_url(settings, issued.token)
    until = date_and_clock(issued.row.expires_at, locale)
    invitation = issued.row.purpose == LinkPurpose.invitation
    words = _invitation_words if invitation else _reset_words
    subject, lead = words[locale](url, until, invited_by)
    greeting = "Hello" if locale == "en" else "Bonjour"
    return operator_email(
        settings, operator.email, subject, f"{greeting} {operator.display_name},\n\n{lead}"
    )


def _invitation_fr(url: str, until: str, invited_by: str | None) -> tuple[str, str]:
    who = f"{invited_by} vous invite" if invited_by else "Vous êtes invité"
    return "Votre accès à la console de diffusion", (
        f"{who} à utiliser la console de diffusion, qui sert à prévenir les familles et "
        "les personnels quand l'ENT ou un autre service est en panne.\n\n"
        f"Pour choisir votre mot de passe, ouvrez ce lien (valable jusqu'au {until}, "
        f"une seule fois) :\n{url}\n"
    )


def _invitation_en(url: str, until: str, invited_by: str | None) -> tuple[str, str]:
    who = f"{invited_by} invites you" if invited_by else "You are invited"
    return "Your access to the broadcast console", (
        f"{who} to use the broadcast console, which tells families and staff when the ENT "
        "or another service is down.\n\n"
        f"To choose your password, open this link (valid until {until}, once only):\n{url}\n"
    )


def _reset_fr(url: str, until: str, invited_by: str | None) -> tuple[str, str]:
    return "Nouveau mot de passe pour la console de diffusion", (
        "Un nouveau mot de passe a été demandé pour votre compte de la console de "
        f"diffusion.\n\nPour le choisir, ouvrez ce lien (valable jusqu'au {until}, une "
        f"seule fois) :\n{url}\n\n"
        "Si vous n'avez rien demandé, ignorez ce message : votre mot de passe actuel reste "
        "valable.\n"
    )


def _reset_en(url: str, until: str, invited_by: str | None) -> tuple[str, str]:
    return "New password for the broadcast console", (
        "A new password was asked for your account of the broadcast console.\n\n"
        f"To choose it, open this link (valid until {until}, once only):\n{url}\n\n"
        "If you asked for nothing, ignore this message: your current password stays valid.\n"
    )


_invitation_words = {"fr": _invitation_fr, "en": _invitation_en}
_reset_words = {"fr": _reset_fr, "en": _reset_en}


async def send_link(settings: Settings, message: EmailMessage) -> None:
    """Send after the commit; a relay that fails is logged (the operator asks again)."""
    try:
        await send_to_operator(settings, message)
    except Exception:  # the answer has left: a new link can be asked for
        log.exception("link to %s not sent", mask_email(str(message["To"])))


@dataclass(frozen=True, slots=True)
class ResetThrottle:
    """Reset requests counted per address asked for and per client address, in Redis."""

    redis: Redis

    @staticmethod
    def _keys(email: str, address: str) -> tuple[str, str]:
        account = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
        return f"reset:account:{account}", f"reset:address:{address}"

    async def count(self, email: str, address: str) -> None:
        """Count this request; :class:`TooManyResets` once either count passed its limit."""
        account_key, address_key = self._keys(email, address)
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in (account_key, address_key):
                pipe.incr(key)
                pipe.expire(key, RESET_WINDOW_S)
            account, _, by_address, _ = await pipe.execute()
        if int(account) > RESET_PER_ACCOUNT or int(by_address) > RESET_PER_ADDRESS:
            raise TooManyResets()

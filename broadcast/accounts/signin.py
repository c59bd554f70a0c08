"""Signing in to the console without the ENT or the académie's SSO (RULES A3).

Local accounts: an Argon2id password, a TOTP second factor (RFC 6238, each code good once) or a
one-time recovery code, and an opaque server-side session whose cookie holds a random token of
which only the SHA-256 is stored. A session ends after 30 minutes without a request and 12 hours
after sign-in, whichever comes first. Failures are throttled per account and per client address
in Redis, and every sign-in, failure and sign-out is in the audit log.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from redis.asyncio import Redis
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.accounts.models import ConsoleSession, Operator, Role
from broadcast.core.errors import DomainError, InvalidInput
from broadcast.core.timeutil import utcnow
from broadcast.directory.models import Organisation

IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
TOUCH_EVERY = timedelta(minutes=1)
"""A session's last use is written at most this often: a page polled every few seconds reads
its session without writing it (and without waiting on that row's lock) between two touches;
the idle timeout is then counted from at most a minute early."""
SECOND_FACTOR_ROLES = frozenset({Role.platform_admin, Role.academie_officer})
"""Roles that must sign in with a second factor; head teachers are offered one."""

RECOVERY_CODES = 10
ACCOUNT_FAILURES = 5
ADDRESS_FAILURES = 30
THROTTLE_WINDOW_S = 15 * 60

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("une phrase de passe qui n'existe pas")


class TooManyAttempts(DomainError):
    status_code = 429
    code = "too_many_attempts"
    message_fr = (
        "Trop de tentatives de connexion. Patientez quinze minutes avant de réessayer, "
        "ou demandez un nouveau mot de passe."
    )
    message_en = "Too many sign-in attempts. Wait fifteen minutes, or ask for a new password."


def hash_secret(value: str) -> str:
    """Argon2id, for passwords and recovery codes."""
    return _hasher.hash(value)


MIN_PASSWORD_LENGTH = 12


class WeakPassword(InvalidInput):
    message_fr = (
        f"Choisissez un mot de passe d'au moins {MIN_PASSWORD_LENGTH} caractères : une phrase "
        "de quelques mots se retient mieux qu'un mot compliqué."
    )
    message_en = f"Choose a password of at least {MIN_PASSWORD_LENGTH} characters."


def set_password(operator: Operator, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword()
    operator.password_hash = hash_secret(password)


def password_matches(operator: Operator | None, password: str) -> bool:
    """Whether ``password`` is the operator's; as slow for an unknown account as for a known
    one, so that timing does not tell which addresses have an account."""
    stored = operator.password_hash if operator and operator.active else None
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_second_factor(operator: Operator) -> bool:
    return operator.totp_secret is not None or Role(operator.role) in SECOND_FACTOR_ROLES


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(operator: Operator, secret: str) -> str:
    """The ``otpauth://`` address an authenticator app reads (as a QR code or typed in)."""
    return pyotp.TOTP(secret).provisioning_uri(name=operator.email, issuer_name="broadcast")


def accept_totp(operator: Operator, code: str, *, at: datetime | None = None) -> bool:
    """Whether ``code`` is the operator's current code (one step of clock drift either way),
    and not one already used: an accepted code's step is recorded."""
    if operator.totp_secret is None:
        return False
    code = "".join(code.split())
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        return False
    totp = pyotp.TOTP(operator.totp_secret)
    now = at or utcnow()
    step = totp.timecode(now)
    for candidate in (step - 1, step, step + 1):
        used = operator.totp_last_step is not None and candidate <= operator.totp_last_step
        if not used and secrets.compare_digest(totp.generate_otp(candidate), code):
            operator.totp_last_step = candidate
            return True
    return False


def new_recovery_codes(operator: Operator) -> list[str]:
    """Fresh recovery codes, shown once; only their hashes are kept."""
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]
    operator.recovery_codes = [hash_secret(code) for code in codes]
    return codes


def use_recovery_code(operator: Operator, code: str) -> bool:
    """Whether ``code`` is one of the operator's unused recovery codes, which it then spends."""
    code = code.strip().lower()
    for stored in operator.recovery_codes:
        try:
            if _hasher.verify(stored, code):
                operator.recovery_codes = [c for c in operator.recovery_codes if c != stored]
                return True
        except (VerificationError, InvalidHashError):
            continue
    return False


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class OpenSession:
    token: str
    row: ConsoleSession


async def open_session(session: AsyncSession, operator: Operator) -> OpenSession:
    """A new session for the operator (a new token at each sign-in: no fixation)."""
    assert operator.id is not None
    token = secrets.token_urlsafe(32)
    row = ConsoleSession(
        token_hash=_token_hash(token),
        operator_id=operator.id,
        second_factor_done=not needs_second_factor(operator),
        csrf_token=secrets.token_urlsafe(24),
    )
    session.add(row)
    await session.flush()
    return OpenSession(token, row)


def _expired(row: ConsoleSession, now: datetime) -> bool:
    return now - row.last_seen_at > IDLE_TIMEOUT or now - row.created_at > ABSOLUTE_TIMEOUT


async def find_session(
    session: AsyncSession, token: str | None
) -> tuple[ConsoleSession, Operator] | None:
    """The live session of ``token`` and its operator, touched (once in :data:`TOUCH_EVERY`);
    ``None`` when it is unknown, expired (then deleted) or its operator disabled."""
    if not token or len(token) > 100:
        return None
    found = (
        await session.execute(
            select(ConsoleSession, Operator, Organisation)
            .join(Operator, col(Operator.id) == col(ConsoleSession.operator_id))
            .join(Organisation, col(Organisation.id) == col(Operator.organisation_id))
            .where(col(ConsoleSession.token_hash) == _token_hash(token))
        )
    ).first()
    if found is None:
        return None
    row, operator, _ = found  # the organisation is now in the session: a get() reads no row
    now = utcnow()
    if _expired(row, now) or not operator.active:
        await session.delete(row)
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    return row, operator


async def close_session(session: AsyncSession, token: str | None) -> None:
    if token and len(token) <= 100:
        await session.execute(
            delete(ConsoleSession).where(col(ConsoleSession.token_hash) == _token_hash(token))
        )


async def close_all_sessions(session: AsyncSession, operator_id: int) -> None:
    """Every session of the operator: after a password change or a disabled account."""
    await session.execute(
        delete(ConsoleSession).where(col(ConsoleSession.operator_id) == operator_id)
    )


@dataclass(frozen=True, slots=True)
class SignInThrottle:
    """Failed attempts per account and per client address, in Redis; the window restarts
    at each failure, so that a steady guesser stays locked out."""

    redis: Redis

    @staticmethod
    def _keys(email: str, address: str) -> tuple[str, str]:
        account = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
        return f"signin:fail:account:{account}", f"signin:fail:address:{address}"

    async def check(self, email: str, address: str) -> None:
        """Raise :class:`TooManyAttempts` when either count reached its limit."""
        account_key, address_key = self._keys(email, address)
        account, by_address = await self.redis.mget(account_key, address_key)
        if int(account or 0) >= ACCOUNT_FAILURES or int(by_address or 0) >= ADDRESS_FAILURES:
            raise TooManyAttempts()

    async def failed(self, email: str, address: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in self._keys(email, address):
                pipe.incr(key)
                pipe.expire(key, THROTTLE_WINDOW_S)
            await pipe.execute()

    async def succeeded(self, email: str, address: str) -> None:
        await self.redis.delete(self._keys(email, address)[0])

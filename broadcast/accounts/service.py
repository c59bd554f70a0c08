"""Operators, API keys (RULES A4), the acting principal, scope checks (A1) and the audit log."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.accounts.models import ApiKey, AuditEvent, Operator, Role
from broadcast.accounts.permissions import (
    ROLE_PERMISSIONS,
    ROLE_SCOPE_KINDS,
    Permission,
    role_allows,
)
from broadcast.core.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from broadcast.core.sqlutil import row_id
from broadcast.core.timeutil import utcnow
from broadcast.directory.models import Organisation, OrganisationKind

KEY_PREFIX = "bc_"
_password_hasher = PasswordHasher()  # Argon2id with the library's recommended parameters


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting: an operator, through one of its API keys (or a command line)."""

    operator_id: int
    role: Role
    organisation_id: int
    scope_path: str
    api_key_id: int | None = None

    def can(self, permission: Permission) -> bool:
        return role_allows(self.role, permission)

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise Forbidden()


async def create_operator(
    session: AsyncSession,
    *,
    email: str,
    display_name: str,
    role: Role,
    organisation: Organisation,
    password: str | None = None,
) -> Operator:
    if OrganisationKind(organisation.kind) not in ROLE_SCOPE_KINDS[role]:
        raise InvalidInput(
            f"Le rôle {role} ne peut pas être rattaché à un(e) {organisation.kind}.",
            f"Role {role} cannot be anchored at a {organisation.kind}.",
        )
    operator = Operator(
        email=email.lower(),
        display_name=display_name,
        role=role,
        organisation_id=row_id(organisation),
        password_hash=_password_hasher.hash(password) if password else None,
    )
    session.add(operator)
    await session.flush()
    return operator


def _hash_key(plaintext: str) -> str:
    # A 192-bit random key needs no slow hash: SHA-256 is preimage-resistant at that entropy.
    return hashlib.sha256(plaintext.encode()).hexdigest()


def _split_key(plaintext: str) -> tuple[str, str] | None:
    if not plaintext.startswith(KEY_PREFIX):
        return None
    prefix, sep, secret = plaintext[len(KEY_PREFIX) :].partition("_")
    return (KEY_PREFIX + prefix, secret) if sep and prefix and secret else None


async def create_api_key(
    session: AsyncSession,
    operator: Operator,
    name: str,
    *,
    role: Role | None = None,
    organisation: Organisation | None = None,
) -> tuple[ApiKey, str]:
    """A new key and its plaintext, which is shown once and never stored. It acts with
    ``role`` at ``organisation`` (by default its operator's); the caller checks they are not
    above the operator's (:func:`broadcast.accounts.keys.create_key`)."""
    prefix = KEY_PREFIX + secrets.token_hex(4)
    plaintext = f"{prefix}_{secrets.token_urlsafe(24)}"
    key = ApiKey(
        operator_id=row_id(operator),
        organisation_id=row_id(organisation) if organisation else operator.organisation_id,
        role=role or operator.role,
        name=name,
        prefix=prefix,
        key_hash=_hash_key(plaintext),
    )
    session.add(key)
    await session.flush()
    return key, plaintext


async def authenticate_api_key(session: AsyncSession, plaintext: str) -> Principal:
    parts = _split_key(plaintext)
    if parts is None:
        raise Unauthenticated()
    row = (
        await session.execute(
            select(ApiKey, Operator, Organisation)
            .join(Operator, col(Operator.id) == col(ApiKey.operator_id))
            .join(Organisation, col(Organisation.id) == col(ApiKey.organisation_id))
            .where(col(ApiKey.prefix) == parts[0])
        )
    ).first()
    if row is None:
        raise Unauthenticated()
    key, operator, organisation = row
    if not hmac.compare_digest(key.key_hash, _hash_key(plaintext)):
        raise Unauthenticated()
    if key.revoked_at is not None or not operator.active:
        raise Unauthenticated("Cette clé d'API a été révoquée.", "This API key was revoked.")
    if not ROLE_PERMISSIONS[Role(key.role)] <= ROLE_PERMISSIONS[Role(operator.role)]:
        raise Unauthenticated(
            "Cette clé d'API a plus de droits que son auteur n'en a désormais : elle est refusée.",
            "This API key has more rights than its author now has: it is refused.",
        )
    key.last_used_at = utcnow()
    return Principal(
        operator_id=row_id(operator),
        role=Role(key.role),
        organisation_id=row_id(organisation),
        scope_path=organisation.path,
        api_key_id=key.id,
    )


def principal_for(
    operator: Operator, organisation: Organisation, api_key_id: int | None = None
) -> Principal:
    return Principal(
        operator_id=row_id(operator),
        role=Role(operator.role),
        organisation_id=row_id(organisation),
        scope_path=organisation.path,
        api_key_id=api_key_id,
    )


async def revoke_api_key(session: AsyncSession, prefix: str) -> ApiKey:
    key = (
        await session.execute(select(ApiKey).where(col(ApiKey.prefix) == prefix))
    ).scalar_one_or_none()
    if key is None:
        raise NotFound("Clé d'API introuvable.", "API key not found.")
    key.revoked_at = key.revoked_at or utcnow()
    return key


def audit(
    session: AsyncSession,
    principal: Principal | None,
    action: str,
    *,
    organisation_id: int | None = None,
    object_type: str | None = None,
    object_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit entry to the caller's transaction: it commits, or nothing does."""
    event = AuditEvent(
        operator_id=principal.operator_id if principal else None,
        api_key_id=principal.api_key_id if principal else None,
        action=action,
        organisation_id=organisation_id,
        object_type=object_type,
        object_id=object_id,
        details=details or {},
    )
    session.add(event)
    return event

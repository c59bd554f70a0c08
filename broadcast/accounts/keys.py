"""API keys managed within the operator's scope (RULES A1, A4): listed with who made them,
created with a role and an organisation never above the creator's, revoked. Services never
commit; the plaintext of a new key is returned once and never stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from broadcast.accounts.models import ApiKey, Operator, Role
from broadcast.accounts.permissions import ROLE_PERMISSIONS, ROLE_SCOPE_KINDS
from broadcast.accounts.scoped import get_within_scope, in_scope, organisation_within_scope
from broadcast.accounts.service import Principal, audit, create_api_key
from broadcast.core.errors import InvalidInput, NotFound
from broadcast.core.timeutil import utcnow
from broadcast.directory.models import Organisation

NOT_FOUND = NotFound("Clé d'API introuvable.", "API key not found.")


@dataclass(frozen=True, slots=True)
class KeyLine:
    """One key as the list shows it (never its hash)."""

    id: int
    name: str
    prefix: str
    role: str
    organisation_code: str
    organisation_name: str
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def roles_for(principal: Principal) -> list[Role]:
    """The roles a key made by ``principal`` may have: none granting more than his own."""
    own = ROLE_PERMISSIONS[principal.role]
    return [role for role in Role if ROLE_PERMISSIONS[role] <= own]


async def list_keys(
    session: AsyncSession, principal: Principal, *, before: int = 0, limit: int = 50
) -> list[KeyLine]:
    """The keys of the organisations in scope, newest first (``before`` pages back by id)."""
    creator = aliased(Operator)
    query = (
        select(ApiKey, Organisation, creator)
        .join(Organisation, col(Organisation.id) == col(ApiKey.organisation_id))
        .join(creator, col(creator.id) == col(ApiKey.operator_id))
        .where(in_scope(principal))
    )
    if before:
        query = query.where(col(ApiKey.id) < before)
    rows = await session.execute(query.order_by(col(ApiKey.id).desc()).limit(limit))
    return [_line(key, organisation, operator) for key, organisation, operator in rows]


async def get_key(session: AsyncSession, principal: Principal, key_id: int) -> KeyLine:
    key = await get_within_scope(session, principal, ApiKey, key_id, NOT_FOUND)
    organisation = await session.get(Organisation, key.organisation_id)
    operator = await session.get(Operator, key.operator_id)
    assert organisation is not None and operator is not None
    return _line(key, organisation, operator)


async def create_key(
    session: AsyncSession,
    principal: Principal,
    *,
    name: str,
    organisation_id: int,
    role: str,
) -> tuple[ApiKey, str]:
    """A key for ``organisation_id`` (in scope, else 404) with ``role``, refused (422, in
    French) when that role grants more than the creator's or cannot be held there."""
    name = name.strip()
    if not name:
        raise InvalidInput("Donnez un nom à la clé.", "Give the key a name.")
    if len(name) > 100:
        raise InvalidInput(
            "Le nom fait au plus 100 caractères.", "The name is 100 characters at most."
        )
    if role not in {r.value for r in roles_for(principal)}:
        raise InvalidInput(
            "Ce rôle n'est pas possible : une clé n'a jamais plus de droits que vous.",
            "This role is not possible: a key never has more rights than you.",
        )
    organisation = await organisation_within_scope(
        session,
        principal,
        organisation_id,
        NotFound("Organisation introuvable.", "Organisation not found."),
    )
    if organisation.kind not in ROLE_SCOPE_KINDS[Role(role)]:
        raise InvalidInput(
            "Ce rôle ne peut pas être rattaché à cette organisation.",
            "This role cannot be attached to this organisation.",
        )
    operator = await session.get(Operator, principal.operator_id)
    assert operator is not None
    key, plaintext = await create_api_key(
        session, operator, name, role=Role(role), organisation=organisation
    )
    _audit(session, principal, "api_key.create", key)
    return key, plaintext


async def revoke_key(session: AsyncSession, principal: Principal, key_id: int) -> ApiKey:
    """Revoke the key in scope (404 outside): the API refuses it from the next request."""
    key = await get_within_scope(session, principal, ApiKey, key_id, NOT_FOUND)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        _audit(session, principal, "api_key.revoke", key)
    return key


def _line(key: ApiKey, organisation: Organisation, operator: Operator) -> KeyLine:
    assert key.id is not None
    return KeyLine(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        role=key.role,
        organisation_code=organisation.code,
        organisation_name=organisation.name,
        created_by=operator.display_name,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
    )


def _audit(session: AsyncSession, principal: Principal, action: str, key: ApiKey) -> None:
    audit(
        session,
        principal,
        action,
        organisation_id=key.organisation_id,
        object_type="api_key",
        object_id=key.id,
        details={"name": key.name, "prefix": key.prefix, "role": key.role},
    )

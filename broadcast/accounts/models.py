"""Operators, their API keys, and the audit log."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel

from broadcast.core.dbtypes import Json, UtcDateTime, timestamp_field


class Role(enum.StrEnum):
    platform_admin = "platform_admin"
    academie_officer = "academie_officer"
    head_teacher = "head_teacher"
    viewer = "viewer"


class Operator(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True)
    display_name: str = Field(max_length=200)
    role: str = Field(max_length=32)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    password_hash: str | None = Field(default=None, max_length=255)
    active: bool = True
    created_at: datetime = timestamp_field()
    totp_secret: str | None = Field(default=None, max_length=64)
    totp_last_step: int | None = Field(default=None, sa_type=BigInteger)
    """The last time step a code was accepted for: a code is good once (RFC 6238, 5.2)."""
    recovery_codes: list[str] = Field(default_factory=list, sa_type=Json)
    """Argon2 hashes of the unused recovery codes."""
    locale: str = Field(default="fr", max_length=2)
    last_signed_in_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class ConsoleSession(SQLModel, table=True):
    """A signed-in browser: the cookie holds a random token, the table its SHA-256 only."""

    __tablename__ = "console_session"

    token_hash: str = Field(primary_key=True, max_length=64)
    operator_id: int = Field(foreign_key="operator.id", index=True)
    created_at: datetime = timestamp_field()
    last_seen_at: datetime = timestamp_field()
    second_factor_done: bool = False
    csrf_token: str = Field(max_length=64)


class OperatorLink(SQLModel, table=True):
    """A one-time link emailed to an operator: an invitation or a password reset. The link
    holds a random token, the table its SHA-256 only (:mod:`broadcast.accounts.links`)."""

    __tablename__ = "operator_link"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    operator_id: int = Field(foreign_key="operator.id", index=True)
    purpose: str = Field(max_length=16)
    created_at: datetime = timestamp_field()
    expires_at: datetime = Field(sa_type=UtcDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class ApiKey(SQLModel, table=True):
    """A key acts for the operator who created it (``operator_id``, named in the audit log),
    with its own role and organisation, never above its creator's."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    operator_id: int = Field(foreign_key="operator.id", index=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    role: str = Field(max_length=32)
    name: str = Field(max_length=100)
    prefix: str = Field(max_length=32, unique=True)
    key_hash: str = Field(max_length=64)
    created_at: datetime = timestamp_field()
    last_used_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = timestamp_field(index=True)
    operator_id: int | None = Field(default=None, foreign_key="operator.id")
    api_key_id: int | None = Field(default=None, foreign_key="api_key.id")
    action: str = Field(max_length=64)
    organisation_id: int | None = Field(default=None, foreign_key="organisation.id", index=True)
    object_type: str | None = Field(default=None, max_length=32)
    object_id: int | None = None
    details: dict[str, Any] = Field(default_factory=dict, sa_type=Json)

"""Idempotency keys (RULES D6): the first successful response to a creation, kept per API key so a
retried request gets that response again instead of creating a second object."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import UniqueConstraint, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col

from broadcast.core.dbtypes import Json, timestamp_field
from broadcast.core.errors import Conflict, InvalidInput
from broadcast.core.timeutil import utcnow

MAX_KEY_LENGTH = 255
RETENTION = timedelta(hours=24)


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("api_key_id", "key", name="uq_idempotency_key"),)

    id: int | None = Field(default=None, primary_key=True)
    api_key_id: int = Field(foreign_key="api_key.id")
    key: str = Field(max_length=MAX_KEY_LENGTH)
    method_path: str = Field(max_length=255)
    request_hash: str = Field(max_length=64)
    status_code: int
    response_body: Any = Field(sa_type=Json)
    created_at: datetime = timestamp_field(index=True)


class IdempotencyKeyReused(InvalidInput):
    code = "idempotency_key_reused"
    message_fr = "Cette clé d'idempotence a déjà servi pour une autre requête."
    message_en = "This idempotency key was already used for a different request."


class IdempotencyKeyInUse(Conflict):
    code = "idempotency_key_in_use"
    message_fr = "Une requête avec cette clé d'idempotence est déjà en cours ; réessayez."
    message_en = "A request with this idempotency key is already in progress; retry."


def request_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


async def find(session: AsyncSession, api_key_id: int, key: str) -> IdempotencyRecord | None:
    statement = select(IdempotencyRecord).where(
        col(IdempotencyRecord.api_key_id) == api_key_id, col(IdempotencyRecord.key) == key
    )
    found: IdempotencyRecord | None = (await session.execute(statement)).scalar_one_or_none()
    return found


def ensure_same_request(record: IdempotencyRecord, method_path: str, body_hash: str) -> None:
    """A key names one request: reusing it for another body or another route is refused."""
    if record.method_path != method_path or record.request_hash != body_hash:
        raise IdempotencyKeyReused()


async def remember(
    session: AsyncSession,
    *,
    api_key_id: int,
    key: str,
    method_path: str,
    body_hash: str,
    status_code: int,
    response_body: Any,
) -> IdempotencyRecord:
    """Keep the response in the caller's transaction, so it commits with what it describes.

    Two concurrent requests with the same new key both run; the unique constraint lets only one
    commit and the other is refused (409) with its work rolled back."""
    await session.flush()  # the caller's own rows first: their errors are not ours
    record = IdempotencyRecord(
        api_key_id=api_key_id,
        key=key,
        method_path=method_path,
        request_hash=body_hash,
        status_code=status_code,
        response_body=response_body,
    )
    session.add(record)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise IdempotencyKeyInUse() from exc
    return record


async def purge_expired(session: AsyncSession, older_than: timedelta = RETENTION) -> int:
    """Delete the records older than ``older_than`` (24 h by default, RULES D6's minimum);
    the workers' minutely maintenance cron calls it."""
    statement = delete(IdempotencyRecord).where(
        col(IdempotencyRecord.created_at) < utcnow() - older_than
    )
    result = await session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)

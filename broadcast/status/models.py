"""An email address waiting to confirm that it follows an organisation's status page."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from broadcast.core.dbtypes import UtcDateTime, timestamp_field


class EmailFollowRequest(SQLModel, table=True):
    """Double opt-in: the address follows only once the link sent to it is opened. The link
    carries a random token; only its SHA-256 is kept, and it works once, before ``expires_at``."""

    __tablename__ = "email_follow_request"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    email: str = Field(max_length=320)
    locale: str = Field(default="fr", max_length=8)
    created_at: datetime = timestamp_field()
    expires_at: datetime = Field(sa_type=UtcDateTime)
    confirmed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)

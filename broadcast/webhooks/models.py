"""Outbound webhook subscribers and the signed messages queued for them (RULES W1-W3)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, Integer
from sqlmodel import Field, SQLModel

from broadcast.core.dbtypes import BigId, Json, UtcDateTime, timestamp_field


class WebhookEvent(enum.StrEnum):
    notice_created = "notice.created"
    notice_updated = "notice.updated"
    notice_resolved = "notice.resolved"
    broadcast_queued = "broadcast.queued"
    broadcast_completed = "broadcast.completed"
    broadcast_held = "broadcast.held"
    """Sending is held: every account of a channel is paused (``held_reason`` says why)."""


class WebhookEndpoint(SQLModel, table=True):
    """A subscriber of events within an organisation's subtree. ``secret`` (``whsec_...``) signs
    every message; the API shows it once, at creation."""

    __tablename__ = "webhook_endpoint"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    url: str = Field(max_length=2000)
    description: str = Field(default="", max_length=200)
    events: list[str] = Field(default_factory=list, sa_type=Json)
    secret: str = Field(max_length=100)
    enabled: bool = True
    disabled_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    disabled_reason: str | None = Field(default=None, max_length=200)
    created_by_id: int | None = Field(default=None, foreign_key="operator.id")
    created_at: datetime = timestamp_field()
    last_success_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_failure_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class WebhookMessageStatus(enum.StrEnum):
    pending = "pending"
    delivered = "delivered"
    failed = "failed"
    """Given up: a permanent refusal, the endpoint disabled, or retries exhausted."""


class WebhookMessage(SQLModel, table=True):
    """One event for one endpoint; ``message_id`` is the ``webhook-id`` header, stable across
    retries so the receiver can de-duplicate."""

    __tablename__ = "webhook_message"
    __table_args__ = (Index("ix_webhook_message_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    endpoint_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("webhook_endpoint.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        )
    )
    message_id: str = Field(max_length=64, unique=True)
    event_type: str = Field(max_length=64)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=Json)
    status: str = Field(default=WebhookMessageStatus.pending, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=200)
    created_at: datetime = timestamp_field()
    delivered_at: datetime | None = Field(default=None, sa_type=UtcDateTime)

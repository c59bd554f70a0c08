"""Monitoring systems that may open draft notices, the alerts they raised, and the message ids
already received (RULES W4)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from broadcast.core.dbtypes import Json, timestamp_field


class InboundKind(enum.StrEnum):
    alertmanager = "alertmanager"
    generic = "generic"


class InboundSource(SQLModel, table=True):
    """A monitoring system allowed to open draft notices in one organisation's subtree.

    ``secret`` authenticates it: the bearer token Alertmanager sends, or the ``whsec_`` secret
    of a Standard Webhooks signature for the generic format. ``auto_send_channels`` non-empty is
    the operator's rule that a firing alert is sent at once, to staff only, on those channels.
    """

    __tablename__ = "inbound_source"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    name: str = Field(max_length=100)
    kind: str = Field(max_length=16)
    secret: str = Field(max_length=100)
    auto_send_channels: list[str] = Field(default_factory=list, sa_type=Json)
    enabled: bool = True
    created_by_id: int | None = Field(default=None, foreign_key="operator.id")
    created_at: datetime = timestamp_field()


class InboundAlert(SQLModel, table=True):
    """One alert (by fingerprint) of a source and the notice it opened: a repeated alert updates
    that notice instead of opening another."""

    __tablename__ = "inbound_alert"
    __table_args__ = (
        UniqueConstraint("source_id", "fingerprint", name="uq_inbound_alert_fingerprint"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("inbound_source.id", ondelete="CASCADE"), nullable=False
        )
    )
    fingerprint: str = Field(max_length=128)
    notice_id: int = Field(foreign_key="notice.id", index=True)
    status: str = Field(max_length=16)
    first_seen_at: datetime = timestamp_field()
    last_seen_at: datetime = timestamp_field()


class InboundReceipt(SQLModel, table=True):
    """A message id already accepted from a source: a replay is acknowledged and ignored."""

    __tablename__ = "inbound_receipt"
    __table_args__ = (UniqueConstraint("source_id", "message_id", name="uq_inbound_receipt"),)

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("inbound_source.id", ondelete="CASCADE"), nullable=False
        )
    )
    message_id: str = Field(max_length=128)
    received_at: datetime = timestamp_field(index=True)

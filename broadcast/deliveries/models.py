"""The delivery ledger: one row per (broadcast, channel, address), moved forward only."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from broadcast.core.dbtypes import BigId, timestamp_field


class DeliveryStatus(enum.StrEnum):
    queued = "queued"
    sending = "sending"
    sent = "sent"
    delivered = "delivered"
    failed = "failed"
    cancelled = "cancelled"


FINAL_STATUSES = frozenset(
    {DeliveryStatus.sent, DeliveryStatus.delivered, DeliveryStatus.failed, DeliveryStatus.cancelled}
)
OPEN_STATUSES = (DeliveryStatus.queued, DeliveryStatus.sending)

# A provider update may only move a delivery to a higher rank (RULES D5).
STATUS_RANK = {
    DeliveryStatus.queued: 0,
    DeliveryStatus.sending: 1,
    DeliveryStatus.sent: 2,
    DeliveryStatus.delivered: 3,
    DeliveryStatus.failed: 3,
    DeliveryStatus.cancelled: 3,
}


class Delivery(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("broadcast_id", "channel", "address", name="uq_delivery_address"),
        Index("ix_delivery_progress", "broadcast_id", "channel", "status"),
        Index("ix_delivery_broadcast_id_id", "broadcast_id", "id"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    broadcast_id: int = Field(foreign_key="broadcast.id")
    channel: str = Field(max_length=16)
    address: str = Field(max_length=320)
    contact_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("contact.id", ondelete="SET NULL"), nullable=True),
    )
    locale: str = Field(default="fr", max_length=8)
    status: str = Field(default=DeliveryStatus.queued, max_length=16)
    attempts: int = 0
    provider_message_id: str | None = Field(default=None, max_length=128, index=True)
    provider_account: str | None = Field(default=None, max_length=64)
    """The relay or SMS account that answered last (the one that sent it, once sent)."""
    error: str | None = Field(default=None, max_length=200)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()

"""One send of a notice update to an audience over chosen channels."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from broadcast.core.dbtypes import Json, UtcDateTime, timestamp_field


class BroadcastStatus(enum.StrEnum):
    draft = "draft"
    pending_approval = "pending_approval"
    rejected = "rejected"
    scheduled = "scheduled"
    queued = "queued"
    sending = "sending"
    paused = "paused"
    completed = "completed"
    cancelled = "cancelled"


STATUS_FR: dict[str, str] = {
    BroadcastStatus.draft: "encore à l'état de brouillon",
    BroadcastStatus.pending_approval: "en attente d'approbation",
    BroadcastStatus.rejected: "rejetée",
    BroadcastStatus.scheduled: "programmée",
    BroadcastStatus.queued: "en file d'attente",
    BroadcastStatus.sending: "en cours d'envoi",
    BroadcastStatus.paused: "suspendue",
    BroadcastStatus.completed: "terminée",
    BroadcastStatus.cancelled: "annulée",
}
"""What a status says in a French sentence about a broadcast: « Cette diffusion est terminée »."""


def status_fr(status: str) -> str:
    return STATUS_FR.get(status, status)


class DeliveryMode(enum.StrEnum):
    every_channel = "every_channel"
    """One message on each selected channel where the contact has an address."""
    first_available = "first_available"
    """One message per contact, on the first of the channels (in the broadcast's order) where
    the contact has a usable address."""


class Priority(enum.StrEnum):
    normal = "normal"
    urgent = "urgent"


class Broadcast(SQLModel, table=True):
    """``fanout_cursor`` is the last contact point planned; ``dispatch_cursor`` the last
    delivery handed to a dispatch job. Both only move forward, so a crash resumes from them."""

    id: int | None = Field(default=None, primary_key=True)
    notice_id: int = Field(foreign_key="notice.id", index=True)
    update_id: int = Field(foreign_key="notice_update.id")
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    audience: dict[str, Any] = Field(default_factory=dict, sa_type=Json)
    channels: list[str] = Field(default_factory=list, sa_type=Json)
    priority: str = Field(default=Priority.normal, max_length=16)
    delivery_mode: str = Field(default=DeliveryMode.every_channel, max_length=16)
    is_exercise: bool = False
    exercise_addresses: list[dict[str, str]] = Field(default_factory=list, sa_type=Json)
    """For an exercise limited to a seed list: ``[{"channel": ..., "address": ...}]``."""
    follow_up_of_id: int | None = Field(default=None, foreign_key="broadcast.id")
    """A follow-up goes to the addresses the earlier broadcast planned, as they were then."""
    scheduled_at: datetime | None = Field(default=None, sa_type=UtcDateTime, index=True)
    estimated_recipients: int = 0
    estimated_sms_segments: int = 0
    """Recorded at confirmation from the preview; volume caps (RULES A6) add these up.
    ``estimated_recipients`` counts deliveries (one per address and channel), not contacts."""
    confirmed_preview: dict[str, Any] | None = Field(default=None, sa_type=Json)
    """The whole preview recorded at confirmation, as :class:`~broadcast.audiences.preview.
    AudiencePreview` serialises it: what the sender saw when he sent."""
    approval_required: bool = False
    approved_by_id: int | None = Field(default=None, foreign_key="operator.id")
    approved_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    approval_override: bool = False
    rejected_by_id: int | None = Field(default=None, foreign_key="operator.id")
    rejected_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    rejection_reason: str | None = Field(default=None, max_length=500)
    paused_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    held_reason: str | None = Field(default=None, max_length=200)
    """Why sending is held though the broadcast is sending (every account of a channel paused,
    :mod:`broadcast.channels.health`): said to the operator, cleared once messages go out."""
    status: str = Field(default=BroadcastStatus.draft, max_length=16, index=True)
    fanout_cursor: int = 0
    fanout_done: bool = False
    dispatch_cursor: int = 0
    created_by_id: int | None = Field(default=None, foreign_key="operator.id")
    created_at: datetime = timestamp_field()
    queued_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    completed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UtcDateTime)

"""One send of a notice update to an audience over chosen channels."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from broadcast.dbtypes import Json, UtcDateTime, timestamp_field


class BroadcastStatus(enum.StrEnum):
    draft = "draft"
    queued = "queued"
    sending = "sending"
    completed = "completed"
    cancelled = "cancelled"


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
    status: str = Field(default=BroadcastStatus.draft, max_length=16, index=True)
    fanout_cursor: int = 0
    fanout_done: bool = False
    dispatch_cursor: int = 0
    created_by_id: int | None = Field(default=None, foreign_key="operator.id")
    created_at: datetime = timestamp_field()
    queued_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    completed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UtcDateTime)

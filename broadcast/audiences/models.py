"""Named audiences saved within an organisation's scope."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from broadcast.core.dbtypes import Json, timestamp_field


class SavedAudience(SQLModel, table=True):
    __tablename__ = "saved_audience"
    __table_args__ = (UniqueConstraint("organisation_id", "name", name="uq_saved_audience_name"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    name: str = Field(max_length=100)
    criteria: dict[str, Any] = Field(default_factory=dict, sa_type=Json)
    created_by_id: int | None = Field(default=None, foreign_key="operator.id")
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()

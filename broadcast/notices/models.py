"""Incidents and announcements, and the updates that move them along their lifecycle."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from broadcast.core.dbtypes import Json, UtcDateTime, timestamp_field


class NoticeStatus(enum.StrEnum):
    investigating = "investigating"
    identified = "identified"
    monitoring = "monitoring"
    resolved = "resolved"


class Notice(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    title: str = Field(max_length=200)
    status: str = Field(default=NoticeStatus.investigating, max_length=16)
    public: bool = False
    is_exercise: bool = False
    """An exercise notice never appears on the public status pages."""
    services: list[Any] = Field(default_factory=list, sa_type=Json)
    """Codes of the services concerned (broadcast.notices.catalogue)."""
    next_update_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    """When the author committed to post the next update; cleared by each update."""
    reminded_for: datetime | None = Field(default=None, sa_type=UtcDateTime)
    """The ``next_update_at`` its author was reminded of (once per commitment)."""
    created_by_id: int | None = Field(default=None, foreign_key="operator.id")
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class NoticeUpdate(SQLModel, table=True):
    __tablename__ = "notice_update"

    id: int | None = Field(default=None, primary_key=True)
    notice_id: int = Field(foreign_key="notice.id", index=True)
    status: str = Field(max_length=16)
    message: str = Field(sa_type=Text)
    created_by_id: int | None = Field(default=None, foreign_key="operator.id")
    created_at: datetime = timestamp_field()


class AcademieNoticeTemplate(SQLModel, table=True):
    """A notice template an académie writes for its schools, beside the national library
    (:mod:`broadcast.notices.templates`): the same shape, stored."""

    __tablename__ = "academie_notice_template"
    __table_args__ = (UniqueConstraint("organisation_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    """The académie; every organisation under it sees the template."""
    key: str = Field(max_length=64)
    status: str = Field(max_length=16)
    exercise: bool = False
    title: dict[str, Any] = Field(default_factory=dict, sa_type=Json)
    """``{"fr": ..., "en": ...}``, with ``{{ placeholders }}``."""
    message: dict[str, Any] = Field(default_factory=dict, sa_type=Json)
    placeholders: list[Any] = Field(default_factory=list, sa_type=Json)
    """``[{"name", "label_fr", "label_en", "example", "required", "max_length"}]``"""
    created_by_id: int | None = Field(default=None, foreign_key="operator.id")
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()

"""Signalements: a school says a service does not work there; the académie turns the reports
of one service into one incident, which the reporting schools then see."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from broadcast.core.dbtypes import UtcDateTime, timestamp_field


class ProblemReport(SQLModel, table=True):
    __tablename__ = "problem_report"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    """The reporting school."""
    service: str = Field(max_length=32)
    """A code of the service catalogue (broadcast.notices.catalogue)."""
    reported_by_id: int | None = Field(default=None, foreign_key="operator.id")
    created_at: datetime = timestamp_field(index=True)
    notice_id: int | None = Field(default=None, foreign_key="notice.id", index=True)
    """The incident the report became part of; none while it waits."""
    linked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)

"""One run of an importer: what it read, what it changed, and which rows it refused."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from broadcast.core.dbtypes import Json, UtcDateTime, timestamp_field

ERROR_LENGTH = 2000
"""Room for a refusal that names the accepted headers and the file's own columns."""


class ImportStatus(enum.StrEnum):
    pending = "pending"
    running = "running"
    completed = "completed"
    failed = "failed"
    """The file was refused whole (malformed, unreadable): nothing was changed."""


class ImportRun(SQLModel, table=True):
    __tablename__ = "import_run"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    kind: str = Field(max_length=16)
    """csv, siecle, onde, stsweb; detected from the file when not given."""
    filename: str = Field(default="", max_length=255)
    dry_run: bool = False
    full: bool = False
    """A full import of the schools it covers: their contacts missing from it are marked left."""
    status: str = Field(default=ImportStatus.pending, max_length=16)
    rows_read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    left: int = 0
    skipped: int = 0
    """Elements that are not contacts to import (SIECLE links of non-legal contacts)."""
    rejections: list[dict[str, Any]] = Field(default_factory=list, sa_type=Json)
    """``[{"row": n, "reason": "..."}]``, capped; ``rejected`` is the true count."""
    error: str | None = Field(default=None, max_length=ERROR_LENGTH)
    attempts: int = 0
    """Times a job started the run: one killed mid-import is run again, a bounded number of
    times (:data:`broadcast.imports.service.MAX_ATTEMPTS`), then failed with the reason."""
    created_by_id: int | None = Field(default=None, foreign_key="operator.id")
    created_at: datetime = timestamp_field()
    started_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UtcDateTime)

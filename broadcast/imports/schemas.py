"""Output shape of an import run; separate from the table model."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class ImportRunOut(BaseModel):
    id: int
    organisation_id: int
    kind: str
    filename: str
    dry_run: bool
    full: bool
    status: str
    rows_read: int
    created: int
    updated: int
    unchanged: int
    rejected: int
    left: int
    skipped: int
    attempts: int
    rejections: list[dict[str, Any]]
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

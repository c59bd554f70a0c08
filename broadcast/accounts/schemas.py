"""Input and output shapes of the audit log; separate from the table models."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from broadcast.core.validation import Moment, RowId, Text

if TYPE_CHECKING:
    from broadcast.accounts.audit import AuditEntry


class AuditFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Text | None = Field(default=None, max_length=64)
    object_type: Text | None = Field(default=None, max_length=32)
    object_id: RowId | None = None
    since: Moment | None = None
    until: Moment | None = None


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    action: str
    operator_id: int | None
    operator_name: str | None
    api_key_prefix: str | None
    organisation_id: int | None
    organisation_code: str | None
    object_type: str | None
    object_id: int | None
    details: dict[str, Any]


def audit_entry_out(entry: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(**entry.values())

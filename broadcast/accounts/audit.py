"""The audit log read back: entries within the caller's scope, filtered, paged, exported as CSV.

Entries are written by :func:`broadcast.accounts.service.audit` in the transaction of the action
they record. Nothing here, nor any route, changes or deletes one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.accounts.models import ApiKey, AuditEvent, Operator, Role
from broadcast.accounts.schemas import AuditFilter
from broadcast.accounts.scoped import in_scope
from broadcast.accounts.service import Principal, audit
from broadcast.core.csvsafe import csv_text
from broadcast.core.errors import InvalidInput
from broadcast.directory.models import Organisation

EXPORT_MAX_ROWS = 50_000
EXPORT_COLUMNS = (
    "id",
    "at",
    "action",
    "operator_id",
    "operator_name",
    "api_key_prefix",
    "organisation_id",
    "organisation_code",
    "object_type",
    "object_id",
    "details",
)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """An entry with the names a reader needs: its operator's name and its API key's prefix
    (both absent for the command line), its organisation's code."""

    event: AuditEvent
    operator_name: str | None
    api_key_prefix: str | None
    organisation_code: str | None

    def values(self) -> dict[str, Any]:
        return {
            **self.event.model_dump(exclude={"details"}),
            "details": dict(self.event.details or {}),
            "operator_name": self.operator_name,
            "api_key_prefix": self.api_key_prefix,
            "organisation_code": self.organisation_code,
        }


EntryQuery = Select[AuditEvent, str, str, str]
"""An entry, its operator's name, its API key's prefix, its organisation's code."""


async def list_entries(
    session: AsyncSession,
    principal: Principal,
    filters: AuditFilter,
    *,
    cursor: int = 0,
    limit: int = 100,
    newest_first: bool = False,
) -> list[AuditEntry]:
    """Entries oldest first after the ``cursor`` id, or newest first before it."""
    query = _entries_in_scope(principal, filters).limit(limit)
    if newest_first:
        query = query.order_by(col(AuditEvent.id).desc())
        query = query.where(col(AuditEvent.id) < cursor) if cursor else query
    else:
        query = query.order_by(col(AuditEvent.id)).where(col(AuditEvent.id) > cursor)
    return [AuditEntry(*row) for row in (await session.execute(query)).all()]


async def export_csv(session: AsyncSession, principal: Principal, filters: AuditFilter) -> str:
    """Every matching entry as CSV, cells guarded (RULES A7); the export is itself audited."""
    query = _entries_in_scope(principal, filters).order_by(col(AuditEvent.id))
    query = query.limit(EXPORT_MAX_ROWS + 1)
    entries = [AuditEntry(*row) for row in (await session.execute(query)).all()]
    if len(entries) > EXPORT_MAX_ROWS:
        raise InvalidInput(
            "L'export dépasse 50 000 lignes : réduisez la période (since, until).",
            "The export exceeds 50,000 rows: narrow the period (since, until).",
        )
    audit(
        session,
        principal,
        "audit.export",
        organisation_id=principal.organisation_id,
        details={"rows": len(entries), "filters": filters.model_dump(mode="json")},
    )
    return csv_text(EXPORT_COLUMNS, (_csv_row(entry) for entry in entries))


async def actions_seen(session: AsyncSession, principal: Principal) -> list[str]:
    """The actions of the entries in scope, for the console's filter."""
    query = _entries_in_scope(principal, AuditFilter()).with_only_columns(col(AuditEvent.action))
    rows = await session.execute(query.distinct().order_by(col(AuditEvent.action)))
    return list(rows.scalars())


def _entries_in_scope(principal: Principal, filters: AuditFilter) -> EntryQuery:
    """Entries whose organisation lies in the caller's subtree (RULES A1); entries tied to no
    organisation (platform-level, e.g. from the command line) are the platform admin's only."""
    within = in_scope(principal)
    if principal.role == Role.platform_admin:
        within = or_(within, col(AuditEvent.organisation_id).is_(None))
    query = (
        select(AuditEvent, col(Operator.display_name), col(ApiKey.prefix), col(Organisation.code))
        .outerjoin(Organisation, col(Organisation.id) == col(AuditEvent.organisation_id))
        .outerjoin(Operator, col(Operator.id) == col(AuditEvent.operator_id))
        .outerjoin(ApiKey, col(ApiKey.id) == col(AuditEvent.api_key_id))
        .where(within)
    )
    return _filtered(query, filters)


def _filtered(query: EntryQuery, filters: AuditFilter) -> EntryQuery:
    if filters.action is not None:
        query = query.where(col(AuditEvent.action) == filters.action)
    if filters.object_type is not None:
        query = query.where(col(AuditEvent.object_type) == filters.object_type)
    if filters.object_id is not None:
        query = query.where(col(AuditEvent.object_id) == filters.object_id)
    if filters.since is not None:
        query = query.where(col(AuditEvent.at) >= _utc(filters.since))
    if filters.until is not None:
        query = query.where(col(AuditEvent.at) < _utc(filters.until))
    return query


def _utc(moment: datetime) -> datetime:
    """A naive moment is read as UTC; SQLite compares the stored UTC text, so convert."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _csv_row(entry: AuditEntry) -> list[object]:
    values = entry.values()
    values["at"] = entry.event.at.isoformat()
    values["details"] = json.dumps(values["details"], ensure_ascii=False, sort_keys=True)
    return [values[column] for column in EXPORT_COLUMNS]

"""SQL that differs between SQLite and PostgreSQL, written once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert


def insert_ignoring_conflicts(session: AsyncSession, model: Any) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` for the session's dialect."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    statement: Insert = module.insert(model).on_conflict_do_nothing()
    return statement


async def insert_ignore(session: AsyncSession, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert_ignoring_conflicts(session, model), list(rows))


async def refresh_statistics(session: AsyncSession, table: str) -> None:
    """Have PostgreSQL's planner see the rows just written in bulk to ``table``.

    Autovacuum would, but a minute or more later; until then a table analysed while it held
    none of these rows is planned as if each query matched one row (a batch read walked the
    whole broadcast). ``SKIP_LOCKED``: an autovacuum already on the table is as good. SQLite
    keeps no statistics unless asked, and plans by its indexes alone: nothing to do."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text(f'ANALYZE (SKIP_LOCKED) "{table}"'))


async def analysed_rows(session: AsyncSession, table: str) -> int:
    """How many rows ``table`` held when PostgreSQL last analysed it (0 if never, and on
    SQLite)."""
    if session.get_bind().dialect.name != "postgresql":
        return 0
    rows = await session.scalar(
        text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:table)"), {"table": table}
    )
    return max(int(rows or 0), 0)


def row_id(row: Any) -> int:
    """The primary key of a row that has been flushed (SQLModel types ids as optional)."""
    value = row.id
    if value is None:
        raise ValueError(f"{type(row).__name__} has no id yet: flush it first")
    return int(value)

"""The schema comes from the migrations alone, and it is the same as the models on SQLite and
on PostgreSQL: comparing the migrated database with the models finds nothing to change."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from broadcast.core.db import create_engine
from broadcast.models import metadata
from broadcast.settings import Settings


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def _delivery_uniques(connection: Connection) -> list[Any]:
    return [u["column_names"] for u in inspect(connection).get_unique_constraints("delivery")]


async def test_migrated_schema_matches_the_models(settings: Settings) -> None:
    engine = create_engine(settings)
    async with engine.connect() as connection:
        differences = await connection.run_sync(_differences)
        uniques = await connection.run_sync(_delivery_uniques)
    await engine.dispose()
    assert differences == []
    assert ["broadcast_id", "channel", "address"] in uniques  # RULES D1

"""Alembic runs the migrations against the database of the settings (or of the config's URL)."""

from __future__ import annotations

import asyncio

from sqlalchemy.engine import Connection

from alembic import context
from broadcast.core.db import create_engine
from broadcast.models import metadata
from broadcast.settings import Settings, get_settings


def _settings() -> Settings:
    url = context.config.attributes.get("database_url")
    return get_settings() if url is None else Settings(env="dev", database_url=url)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    engine = create_engine(_settings())
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_settings().database_url, target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())

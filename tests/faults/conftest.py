"""Fixtures of the fault suite: PostgreSQL (production's database), a private Redis that the
tests may kill, keeping an AOF as production's does, and the SMTP sink; for the tests that
restart PostgreSQL, a throwaway cluster of their own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from broadcast.core.db import SessionFactory, create_engine, session_factory
from broadcast.core.embedded_redis import EmbeddedRedis
from broadcast.core.migrations import upgrade
from broadcast.sandbox.devservices import ThrowawayPostgres
from broadcast.sandbox.smtp import SmtpSink
from broadcast.settings import Settings
from tests.conftest import _empty_tables, make_settings


@pytest.fixture
def fault_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path / "redis", append_only=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fault_settings(
    postgresql_database_url: str, fault_redis: EmbeddedRedis, sink: SmtpSink, tmp_path: Path
) -> Settings:
    return make_settings(postgresql_database_url, fault_redis.url, sink.port, tmp_path)


@pytest.fixture
async def fault_factory(fault_settings: Settings) -> AsyncIterator[SessionFactory]:
    engine = create_engine(fault_settings)
    sessions = session_factory(engine)
    await _empty_tables(sessions)
    yield sessions
    await engine.dispose()


@pytest.fixture
def private_postgres() -> Iterator[ThrowawayPostgres]:
    """A PostgreSQL cluster of this test alone, built by the migrations: the test restarts it."""
    cluster = ThrowawayPostgres()
    try:
        upgrade(cluster.start())
        yield cluster
    finally:
        cluster.stop()

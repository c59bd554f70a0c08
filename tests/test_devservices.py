"""Where no PostgreSQL answers, `make test` and the benchmarks start a throwaway cluster."""

from __future__ import annotations

import asyncio

import asyncpg
from sqlalchemy.engine import make_url

from broadcast.sandbox.devservices import ThrowawayPostgres


def test_a_throwaway_cluster_starts_answers_and_is_removed() -> None:
    cluster = ThrowawayPostgres()
    url = cluster.start()
    try:
        parsed = make_url(url)

        async def version() -> str:
            connection = await asyncpg.connect(
                user=parsed.username, host=parsed.query["host"], database=parsed.database
            )
            try:
                return str(await connection.fetchval("SHOW server_version"))
            finally:
                await connection.close()

        assert asyncio.run(version())
    finally:
        cluster.stop()
    assert not cluster.directory.exists()

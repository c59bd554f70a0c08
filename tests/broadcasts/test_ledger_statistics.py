"""A large fan-out refreshes PostgreSQL's statistics of the ledger while it plans.

Without them, the table is planned as it was when last analysed, often before the broadcast
existed: each dispatch batch, read by its id range, was read through the whole broadcast
instead (10 to 30 ms a batch at 100,000 rows). SQLite keeps no statistics unless asked."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from broadcast.broadcasts.planner import PlannerSettings, run_fanout
from broadcast.core.db import SessionFactory, transaction
from broadcast.settings import Settings
from tests.support import add_contacts, api, build_world, guardians, send_broadcast


class _Queue:
    async def enqueue_job(self, *_: object, **__: object) -> None:
        return None


async def _statistics(factory: SessionFactory) -> tuple[float, str | None]:
    async with transaction(factory) as session:
        rows = await session.scalar(
            text("SELECT reltuples FROM pg_class WHERE relname = 'delivery'")
        )
        statuses = await session.scalar(
            text(
                "SELECT most_common_vals::text FROM pg_stats"
                " WHERE tablename = 'delivery' AND attname = 'status'"
            )
        )
    return float(rows), statuses


async def _fan_out(settings: Settings, factory: SessionFactory, planner: PlannerSettings) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 400))
    async with api(settings) as client:
        draft = await send_broadcast(
            client, world.keys["head_x"], world.school_x, {"organisation_ids": [world.school_x]}
        )
    await run_fanout(factory, _Queue(), planner, draft["id"])


async def test_the_planner_knows_the_deliveries_of_a_large_fan_out(
    settings: Settings, factory: SessionFactory, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite keeps no statistics unless asked")
    planner = PlannerSettings(chunk_size=100, batch_size=100, analyze_from=150)
    await _fan_out(settings, factory, planner)
    assert await _statistics(factory) == (400.0, "{queued}")


async def test_a_small_fan_out_leaves_the_statistics_to_autovacuum(
    settings: Settings, factory: SessionFactory, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite keeps no statistics unless asked")
    await _fan_out(settings, factory, PlannerSettings(chunk_size=100, batch_size=100))
    rows, _ = await _statistics(factory)
    assert rows != 400.0

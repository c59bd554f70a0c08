"""A large fan-out refreshes PostgreSQL's statistics of the ledger while it plans.

Without them, the table is planned as it was when last analysed, often before the broadcast
existed: each dispatch batch, read by its id range, was read through the whole broadcast
instead (10 to 30 ms a batch at 100,000 rows). A broadcast small next to the ledger changes no
plan and is left to autovacuum. SQLite keeps no statistics unless asked."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from broadcast.broadcasts.planner import PlannerSettings, run_fanout
from broadcast.core.db import SessionFactory, transaction
from broadcast.settings import Settings
from tests.support import World, add_contacts, api, build_world, guardians, send_broadcast


class _Queue:
    async def enqueue_job(self, *_: object, **__: object) -> None:
        return None


@pytest.fixture
def postgresql_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite keeps no statistics unless asked")


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


async def _fan_out(
    settings: Settings,
    factory: SessionFactory,
    planner: PlannerSettings,
    world: World,
    school: int,
    count: int,
) -> None:
    await add_contacts(factory, guardians(school, count, domain=f"ecole{school}.fr"))
    async with api(settings) as client:
        draft = await send_broadcast(
            client, world.keys["officer"], world.academie, {"organisation_ids": [school]}
        )
    await run_fanout(factory, _Queue(), planner, draft["id"])


@pytest.mark.usefixtures("postgresql_only")
async def test_the_planner_knows_the_deliveries_of_a_large_fan_out(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    planner = PlannerSettings(chunk_size=100, batch_size=100, analyze_from=150)
    await _fan_out(settings, factory, planner, world, world.school_x, 400)
    assert await _statistics(factory) == (400.0, "{queued}")


@pytest.mark.usefixtures("postgresql_only")
async def test_a_fan_out_under_the_threshold_leaves_the_statistics_to_autovacuum(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    await _fan_out(settings, factory, PlannerSettings(100, 100), world, world.school_x, 400)
    rows, _ = await _statistics(factory)
    assert rows != 400.0


@pytest.mark.usefixtures("postgresql_only")
async def test_a_fan_out_small_next_to_the_ledger_leaves_the_statistics_to_autovacuum(
    settings: Settings, factory: SessionFactory
) -> None:
    """30 deliveries in a ledger analysed at 400 rows change no plan: no ANALYZE for them."""
    world = await build_world(factory)
    large = PlannerSettings(chunk_size=200, batch_size=200, analyze_from=150)
    await _fan_out(settings, factory, large, world, world.school_x, 400)
    small = PlannerSettings(chunk_size=10, batch_size=10, analyze_from=10)
    await _fan_out(settings, factory, small, world, world.school_z, 30)
    assert await _statistics(factory) == (400.0, "{queued}")

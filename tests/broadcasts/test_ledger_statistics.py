"""A large fan-out refreshes PostgreSQL's statistics of the ledger while it plans.

Without them, the table is planned as it was when last analysed, often before the broadcast
existed: each dispatch batch, read by its id range, was read through the whole broadcast
instead (10 to 30 ms a batch at 100,000 rows). A broadcast small next to the ledger changes no
plan and is left to autovacuum. SQLite keeps no statistics unless asked."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import text

from broadcast.broadcasts.planner import PlannerSettings, run_fanout
from broadcast.core.db import SessionFactory, transaction
from broadcast.settings import Settings
from tests.support import World, add_contacts, api, build_world, guardians, send_broadcast


class _Queue:
    async def enqueue_job(self, *_: object, **__: object) -> None:
        return None


@dataclass(frozen=True)
class _Ledger:
    """A PostgreSQL ledger with the test world, its broadcasts planned by ``fan_out``."""

    settings: Settings
    factory: SessionFactory
    world: World

    async def fan_out(self, planner: PlannerSettings, school: int, count: int) -> None:
        await add_contacts(self.factory, guardians(school, count, domain=f"ecole{school}.fr"))
        async with api(self.settings) as client:
            draft = await send_broadcast(
                client,
                self.world.keys["officer"],
                self.world.academie,
                {"organisation_ids": [school]},
            )
        await run_fanout(self.factory, _Queue(), planner, draft["id"])

    async def statistics(self) -> tuple[float, str | None]:
        """The rows PostgreSQL counted at its last ANALYZE, and the statuses it saw most."""
        async with transaction(self.factory) as session:
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


@pytest.fixture
async def ledger(settings: Settings, factory: SessionFactory, database_url: str) -> _Ledger:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite keeps no statistics unless asked")
    return _Ledger(settings, factory, await build_world(factory))


async def test_the_planner_knows_the_deliveries_of_a_large_fan_out(ledger: _Ledger) -> None:
    planner = PlannerSettings(chunk_size=100, batch_size=100, analyze_from=150)
    await ledger.fan_out(planner, ledger.world.school_x, 400)
    assert await ledger.statistics() == (400.0, "{queued}")


async def test_a_fan_out_under_the_threshold_leaves_the_statistics_to_autovacuum(
    ledger: _Ledger,
) -> None:
    await ledger.fan_out(PlannerSettings(100, 100), ledger.world.school_x, 400)
    rows, _ = await ledger.statistics()
    assert rows != 400.0


async def test_a_fan_out_small_next_to_the_ledger_leaves_the_statistics_to_autovacuum(
    ledger: _Ledger,
) -> None:
    """30 deliveries in a ledger analysed at 400 rows change no plan: no ANALYZE for them."""
    large = PlannerSettings(chunk_size=200, batch_size=200, analyze_from=150)
    await ledger.fan_out(large, ledger.world.school_x, 400)
    small = PlannerSettings(chunk_size=10, batch_size=10, analyze_from=10)
    await ledger.fan_out(small, ledger.world.school_z, 30)
    assert await ledger.statistics() == (400.0, "{queued}")

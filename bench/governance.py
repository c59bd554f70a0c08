"""What approval, volume caps and scheduling cost (issue 5, items 2-4).

    python -m bench.governance [--recipients 100000] [--history 20000] [--due 500] [--runs 5]

Seeds N guardians on PostgreSQL as ``bench.fanout`` does (a fresh database, dropped at the end),
then ``--history`` completed broadcasts spread over the last 24 hours across the académie's
schools, and ``--due`` scheduled broadcasts already due. Times, each ``--runs`` times in a
rolled-back transaction:

- the volume-cap check alone for a broadcast of one school (school, département, académie and
  région, per hour and per day, over the history);
- the whole confirmation of an académie-wide email draft (preview, caps, approval decision);

then the scheduler pass run by two "workers" at once (two engines), until every due broadcast is
started: the wall time, and that each was started exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlmodel import col

from bench.fanout import Seeded, fresh_database, seed, server_url
from broadcast.audiences.criteria import AudienceCriteria
from broadcast.broadcasts.caps import check_caps
from broadcast.broadcasts.models import Broadcast, BroadcastStatus
from broadcast.broadcasts.scheduling import queue_due_broadcasts
from broadcast.broadcasts.schemas import BroadcastIn
from broadcast.broadcasts.service import confirm, create_draft
from broadcast.channels.base import ChannelName
from broadcast.core.db import SessionFactory, create_engine, session_factory, transaction
from broadcast.core.timeutil import utcnow
from broadcast.directory.models import ContactRole, Organisation, OrganisationKind
from broadcast.notices.models import NoticeUpdate
from broadcast.settings import Settings, VolumeCap


class _NoQueue:
    """Counts the fan-outs the scheduler would enqueue (Redis is not what is measured)."""

    def __init__(self) -> None:
        self.enqueued: list[int] = []

    async def enqueue_job(self, function: str, *args: Any, **kwargs: Any) -> None:
        self.enqueued.append(int(args[0]))


async def _school_ids(factory: SessionFactory) -> list[int]:
    async with transaction(factory) as session:
        rows = await session.execute(
            select(col(Organisation.id)).where(
                col(Organisation.kind) == OrganisationKind.etablissement
            )
        )
        return [int(i or 0) for i in rows.scalars()]


async def _seed_broadcasts(
    factory: SessionFactory, seeded: Seeded, history: int, due: int
) -> list[int]:
    """``history`` completed sends over the last day, ``due`` scheduled ones due a minute ago."""
    schools = await _school_ids(factory)
    now = utcnow()
    async with transaction(factory) as session:
        update_id = await session.scalar(
            select(col(NoticeUpdate.id)).where(col(NoticeUpdate.notice_id) == seeded.notice_id)
        )
        base = {"notice_id": seeded.notice_id, "update_id": update_id, "channels": ["email"]}
        rows = [
            base
            | {
                "organisation_id": schools[n % len(schools)],
                "audience": {"organisation_ids": [schools[n % len(schools)]]},
                "status": BroadcastStatus.completed,
                "queued_at": now - timedelta(seconds=86_000 * n / max(history, 1)),
                "estimated_recipients": 10,
                "estimated_sms_segments": 2,
            }
            for n in range(history)
        ] + [
            base
            | {
                "organisation_id": schools[n % len(schools)],
                "audience": {"organisation_ids": [schools[n % len(schools)]]},
                "status": BroadcastStatus.scheduled,
                "scheduled_at": now - timedelta(minutes=1),
                "estimated_recipients": 10,
            }
            for n in range(due)
        ]
        await session.execute(insert(Broadcast), rows)
    return schools


def _ungoverned_caps(database_url: str) -> Settings:
    """Caps high enough never to refuse: the benchmark times the check, not a refusal."""
    return Settings(
        env="dev",
        database_url=database_url,
        volume_caps={
            kind: VolumeCap(recipients_per_hour=10**9, sms_segments_per_day=10**9)
            for kind in ("etablissement", "departement", "academie", "region_academique")
        },
    )


async def _time_caps(
    factory: SessionFactory, settings: Settings, school: int, runs: int
) -> list[float]:
    durations = []
    for _ in range(runs):
        async with factory() as session, session.begin():
            probe = Broadcast(
                notice_id=0, update_id=0, organisation_id=school, estimated_recipients=1
            )
            started = time.perf_counter()
            await check_caps(session, settings, probe, utcnow())
            durations.append(time.perf_counter() - started)
            await session.rollback()
    return durations


async def _time_confirms(
    factory: SessionFactory, settings: Settings, seeded: Seeded, runs: int
) -> tuple[list[float], str]:
    data = BroadcastIn(
        notice_id=seeded.notice_id,
        audience=AudienceCriteria(
            organisation_ids=[seeded.academie_id], roles=[ContactRole.guardian]
        ),
        channels=[ChannelName.email],
    )
    durations, status = [], ""
    for _ in range(runs):
        async with factory() as session, session.begin():
            draft = await create_draft(session, seeded.principal, data)
            started = time.perf_counter()
            confirmed = await confirm(session, seeded.principal, draft, settings)
            durations.append(time.perf_counter() - started)
            status = confirmed.status
            await session.rollback()
    return durations, status


async def _two_schedulers(settings: Settings) -> dict[str, Any]:
    engines = [create_engine(settings), create_engine(settings)]
    queue = _NoQueue()
    try:
        factories = [session_factory(engine) for engine in engines]
        started = time.perf_counter()
        total: list[int] = []
        while True:
            runs = await asyncio.gather(*(queue_due_broadcasts(f, queue) for f in factories))
            if not any(runs):
                break
            total += [i for run in runs for i in run]
        elapsed = time.perf_counter() - started
        async with transaction(factories[0]) as session:
            queued = await session.scalar(
                select(func.count()).where(col(Broadcast.status) == BroadcastStatus.queued)
            )
    finally:
        for engine in engines:
            await engine.dispose()
    return {
        "started": len(total),
        "distinct": len(set(total)),
        "enqueued": len(queue.enqueued),
        "queued_rows": queued,
        "seconds": round(elapsed, 3),
    }


def _summary(durations: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(durations) * 1000, 1),
        "worst_ms": round(max(durations) * 1000, 1),
    }


async def _measure(database_url: str, seeded: Seeded, args: argparse.Namespace) -> dict[str, Any]:
    settings = _ungoverned_caps(database_url)
    engine = create_engine(settings)
    try:
        factory = session_factory(engine)
        schools = await _seed_broadcasts(factory, seeded, args.history, args.due)
        caps = await _time_caps(factory, settings, schools[0], args.runs)
        confirms, status = await _time_confirms(factory, settings, seeded, args.runs)
    finally:
        await engine.dispose()
    return {
        "recipients": args.recipients,
        "history": args.history,
        "caps_check": _summary(caps),
        "confirm_academie_wide": _summary(confirms) | {"status": status},
        "scheduler_two_workers": await _two_schedulers(settings),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.governance", description=__doc__)
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--history", type=int, default=20_000)
    parser.add_argument("--due", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    with fresh_database(server_url()) as database_url:
        seeded = asyncio.run(seed(database_url, args.recipients))
        result = asyncio.run(_measure(database_url, seeded, args))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""An urgent broadcast confirmed during a bulk email send that saturates the channel.

    python -m bench.urgent [--recipients 40000] [--rate 1000] [--urgents 10] [--json]

What runs (the pieces of :mod:`bench.fanout`): a fresh PostgreSQL database seeded with one
académie of ten schools and ``--recipients`` guardians, a private Redis, the count-only SMTP
sink, two ``broadcast worker`` processes, and the email channel limited to ``--rate`` messages
a second (``BROADCAST_CHANNEL_RATES``), so that the bulk send to the whole académie holds the
channel's bucket for ``recipients / rate`` seconds. Two seconds into it, ``--urgents`` urgent
broadcasts, each to the guardians of one level of one school, are confirmed one after the
other, each once the previous one completed. Each confirm commits and enqueues its fan-out
as the API does.

For each urgent: the time from its confirm's commit to its first delivery written ``sent``
(the sink had accepted that message before the row said so: an upper bound of "received"),
polled every 10 ms; and whether it completed before the bulk send. Prints the median and the
maximum (target median < 1 s) and the bulk send's rate.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arq.connections import ArqRedis
from sqlalchemy import select, text
from sqlmodel import col

from bench.fanout import (
    LEVELS,
    UNGOVERNED,
    BenchError,
    Deadline,
    Seeded,
    fresh_database,
    run_and_print,
    seed,
    server_url,
    start_sink,
    start_workers,
    stop_processes,
    wait_until_ready,
    worker_environment,
)
from broadcast.audiences.criteria import AudienceCriteria
from broadcast.broadcasts.models import Broadcast, BroadcastStatus, Priority
from broadcast.broadcasts.schemas import BroadcastIn
from broadcast.broadcasts.service import confirm, create_draft
from broadcast.channels.base import ChannelName
from broadcast.core.db import SessionFactory, create_engine, session_factory, transaction
from broadcast.core.embedded_redis import EmbeddedRedis
from broadcast.core.redis_url import connect as connect_redis
from broadcast.directory.models import ContactRole, Organisation, OrganisationKind
from broadcast.settings import Settings

SMTP_CONNECTIONS = 8
POLL_S = 0.01
TARGET_MEDIAN_S = 1.0
_FIRST_SENT = text(
    "SELECT EXISTS (SELECT 1 FROM delivery WHERE broadcast_id = :id AND status = 'sent')"
)
_STATUS = text("SELECT status FROM broadcast WHERE id = :id")
_SENT = text("SELECT count(*) FROM delivery WHERE broadcast_id = :id AND status = 'sent'")


@dataclass(slots=True)
class Result:
    recipients: int
    rate: float
    first_sent_s: list[float] = field(default_factory=list)
    urgent_completed_s: list[float] = field(default_factory=list)
    finished_before_bulk: list[bool] = field(default_factory=list)
    bulk_per_s: float | None = None
    cpus: int = os.cpu_count() or 0
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def ok(self) -> bool:
        return (
            bool(self.first_sent_s)
            and statistics.median(self.first_sent_s) < TARGET_MEDIAN_S
            and all(self.finished_before_bulk)
        )

    def summary(self) -> dict[str, Any]:
        first = self.first_sent_s
        return {
            "first_sent_s_median": round(statistics.median(first), 3) if first else None,
            "first_sent_s_max": round(max(first), 3) if first else None,
            "first_sent_s": [round(s, 3) for s in first],
            "urgent_completed_s": [round(s, 3) for s in self.urgent_completed_s],
            "urgent_finished_before_bulk": all(self.finished_before_bulk),
            "bulk_per_s": self.bulk_per_s,
            "recipients": self.recipients,
            "rate": self.rate,
            "cpus": self.cpus,
            "load_average_before": self.load_before,
        }


async def _schools(factory: SessionFactory) -> list[int]:
    async with factory() as session:
        rows = await session.execute(
            select(col(Organisation.id)).where(
                col(Organisation.kind) == OrganisationKind.etablissement
            )
        )
        return sorted(i for i in rows.scalars() if i is not None)


async def _confirmed(
    factory: SessionFactory,
    arq: ArqRedis,
    seeded: Seeded,
    audience: AudienceCriteria,
    priority: Priority,
) -> Broadcast:
    """Created and confirmed in one transaction; its fan-out enqueued once it committed."""
    data = BroadcastIn(
        notice_id=seeded.notice_id,
        audience=audience,
        channels=[ChannelName.email],
        priority=priority,
    )
    async with transaction(factory, arq) as session:
        draft = await create_draft(session, seeded.principal, data)
        return await confirm(session, seeded.principal, draft, UNGOVERNED)


async def _scalar(factory: SessionFactory, statement: Any, broadcast_id: int) -> Any:
    async with factory() as session:
        return (await session.execute(statement, {"id": broadcast_id})).scalar()


async def _wait(
    factory: SessionFactory, statement: Any, broadcast_id: int, until: Any, within_s: float = 60
) -> float:
    """Seconds until ``statement`` says ``until`` for the broadcast (at most ``within_s``)."""
    started = time.perf_counter()
    deadline = Deadline.after(within_s)
    while (found := await _scalar(factory, statement, broadcast_id)) != until:
        if deadline.remaining() <= 0:
            status = await _scalar(factory, _STATUS, broadcast_id)
            raise BenchError(f"broadcast {broadcast_id} ({status}): {found!r}, not {until!r}")
        await asyncio.sleep(POLL_S)
    return time.perf_counter() - started


async def measure(
    database_url: str,
    redis_url: str,
    seeded: Seeded,
    result: Result,
    urgents: int,
    deadline: Deadline,
) -> None:
    engine = create_engine(Settings(env="dev", database_url=database_url), pool_size=3)
    arq = await connect_redis(redis_url)
    try:
        factory = session_factory(engine)
        schools = await _schools(factory)
        everyone = AudienceCriteria(
            organisation_ids=[seeded.academie_id], roles=[ContactRole.guardian]
        )
        bulk_started = time.perf_counter()
        bulk = await _confirmed(factory, arq, seeded, everyone, Priority.normal)
        assert bulk.id is not None
        await asyncio.sleep(2)  # the bulk send holds the channel
        for n in range(urgents):
            audience = AudienceCriteria(
                organisation_ids=[schools[n % len(schools)]],
                roles=[ContactRole.guardian],
                levels=[LEVELS[n % len(LEVELS)]],  # a level this school's guardians have
            )
            confirmed = time.perf_counter()
            urgent = await _confirmed(factory, arq, seeded, audience, Priority.urgent)
            assert urgent.id is not None
            committed = time.perf_counter() - confirmed
            first = await _wait(factory, _FIRST_SENT, urgent.id, True)
            result.first_sent_s.append(committed + first)
            done = await _wait(factory, _STATUS, urgent.id, BroadcastStatus.completed.value)
            result.urgent_completed_s.append(committed + first + done)
            bulk_status = await _scalar(factory, _STATUS, bulk.id)
            result.finished_before_bulk.append(bulk_status != BroadcastStatus.completed.value)
        # the bulk send runs for recipients / rate seconds or more: the bench's own deadline
        await _wait(
            factory, _STATUS, bulk.id, BroadcastStatus.completed.value, deadline.remaining()
        )
        sent = int(await _scalar(factory, _SENT, bulk.id) or 0)
        result.bulk_per_s = round(sent / (time.perf_counter() - bulk_started), 1)
    finally:
        await arq.aclose()
        await engine.dispose()


def run(options: argparse.Namespace) -> Result:
    result = Result(options.recipients, options.rate, load_before=os.getloadavg())
    deadline = Deadline.after(options.timeout)
    with (
        tempfile.TemporaryDirectory(prefix="bench-urgent-") as tmp,
        fresh_database(server_url()) as database_url,
        contextlib.ExitStack() as stack,
    ):
        directory = Path(tmp)
        seeded = asyncio.run(seed(database_url, options.recipients))
        redis_server = EmbeddedRedis(directory / "redis")
        redis_url = redis_server.start()
        stack.callback(redis_server.stop)
        sink = start_sink(directory, recording=False)
        stack.callback(stop_processes, [sink.process])
        rates = {"email": {"rate": options.rate, "burst": max(int(options.rate // 10), 1)}}
        extra = {"BROADCAST_CHANNEL_RATES": json.dumps(rates)}
        env = worker_environment(database_url, redis_url, sink.port, SMTP_CONNECTIONS, extra)
        workers = start_workers(options.workers, env, directory)
        stack.callback(stop_processes, workers)
        wait_until_ready(workers, sink.port, SMTP_CONNECTIONS, redis_url, directory, deadline)
        asyncio.run(measure(database_url, redis_url, seeded, result, options.urgents, deadline))
    return result


def readable(result: Result) -> str:
    s = result.summary()
    one, five, fifteen = result.load_before
    met = "ok" if s["first_sent_s_median"] is not None and result.ok else "MISSED"
    return "\n".join(
        [
            f"urgent broadcasts during a {result.recipients:,}-recipient email send limited to "
            f"{result.rate:,.0f}/s, {result.cpus} CPUs shared (load average before: "
            f"{one:.2f} {five:.2f} {fifteen:.2f})",
            f"  confirm to first urgent email sent: median {s['first_sent_s_median']} s, "
            f"max {s['first_sent_s_max']} s   {met} (target median < {TARGET_MEDIAN_S:.0f} s)",
            f"  each: {s['first_sent_s']}",
            f"  urgent completed after (s): {s['urgent_completed_s']}",
            f"  every urgent finished before the bulk send: {s['urgent_finished_before_bulk']}",
            f"  bulk send {s['bulk_per_s']} emails/s",
        ]
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.urgent", description=__doc__)
    parser.add_argument("--recipients", type=int, default=40_000)
    parser.add_argument("--rate", type=float, default=1000.0, help="email channel limit per s")
    parser.add_argument("--urgents", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--json", action="store_true")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    result = run_and_print("bench.urgent", lambda: run(options), readable, as_json=options.json)
    return 0 if result is not None and result.ok else 1


if __name__ == "__main__":
    sys.exit(main())

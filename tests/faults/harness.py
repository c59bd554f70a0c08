"""A small deployment in real processes for the fault suite, and the counts each fault test ends
with: every delivery final, nothing lost, duplicates no more than the groups in flight.

Two worker processes (``broadcast worker``) serve a private Redis and a PostgreSQL database,
and send to an SMTP sink and a Twilio sandbox that run in the test process, where the tests
break them and mend them.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import func, select

from broadcast.broadcasts.models import Broadcast
from broadcast.core.db import SessionFactory, transaction
from broadcast.core.embedded_redis import EmbeddedRedis
from broadcast.deliveries.models import FINAL_STATUSES, Delivery
from broadcast.directory.models import ContactRole
from broadcast.directory.schemas import ContactIn
from tests.conftest import TEST_SECRET

GROUP_SIZE = 10
"""Deliveries claimed and sent together (the email bucket's burst): the most a killed worker
can leave unrecorded per running job, so the most a fault may send twice per job."""


def families(school_id: int, count: int, *, with_mobile: bool = False) -> list[ContactIn]:
    return [
        ContactIn(
            organisation_id=school_id,
            first_name="P",
            last_name=f"F{n}",
            role=ContactRole.guardian,
            level="6e",
            division="6e A",
            email=f"parent{n}@familles.fr",
            mobile=f"+3361{n:07d}" if with_mobile else None,
        )
        for n in range(count)
    ]


@dataclass
class Workers:
    """``broadcast worker`` processes with one environment; killed or stopped by the test."""

    environment: dict[str, str]
    processes: list[asyncio.subprocess.Process] = field(default_factory=list)

    async def start(self, count: int = 2) -> None:
        for _ in range(count):
            self.processes.append(
                await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "broadcast.cli", "worker", env=self.environment
                )
            )

    def alive(self) -> list[asyncio.subprocess.Process]:
        return [p for p in self.processes if p.returncode is None]

    async def kill_one(self) -> None:
        victim = self.alive()[0]
        victim.send_signal(signal.SIGKILL)
        await victim.wait()

    async def stop(self) -> None:
        for process in self.alive():
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()


def forget_data(server: EmbeddedRedis) -> None:
    """Delete a stopped Redis's files (its AOF): started again, it comes back empty."""
    for path in server.directory.iterdir():
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


def worker_environment(
    database_url: str,
    redis_url: str,
    smtp_ports: list[int],
    *,
    twilio: Mapping[str, object] | None = None,
    email_rate: float = 400,
    smtp_login: tuple[str, str] | None = None,
    **extra: str,
) -> dict[str, str]:
    login = {"username": smtp_login[0], "password": smtp_login[1]} if smtp_login else {}
    relays = [
        {"name": f"relais{n}", "host": "127.0.0.1", "port": port, "connections": 4, **login}
        for n, port in enumerate(smtp_ports, start=1)
    ]
    values = {
        **os.environ,
        "BROADCAST_ENV": "dev",
        "BROADCAST_SECRET_KEY": TEST_SECRET,
        "BROADCAST_DATABASE_URL": database_url,
        "BROADCAST_REDIS_URL": redis_url,
        "BROADCAST_SMTP_RELAYS": json.dumps(relays),
        "BROADCAST_CHANNEL_RATES": json.dumps(
            {"email": {"rate": email_rate, "burst": GROUP_SIZE}, "sms": {"rate": 400, "burst": 10}}
        ),
        "BROADCAST_FANOUT_CHUNK_SIZE": "500",
        "BROADCAST_DISPATCH_BATCH_SIZE": "100",
        "BROADCAST_RETRY_BASE_DELAY_S": "0.5",
        "BROADCAST_RETRY_MAX_DELAY_S": "2",
        "BROADCAST_WORKER_POLL_DELAY_S": "0.05",
        "BROADCAST_PROVIDER_PROBE_AFTER_S": "2",
        "BROADCAST_LOG_LEVEL": "WARNING",
        **extra,
    }
    if twilio is not None:
        values["BROADCAST_TWILIO_ACCOUNTS"] = json.dumps([dict(twilio)])
    return values


async def ledger(factory: SessionFactory, broadcast_id: int) -> dict[tuple[str, str], str]:
    """(channel, address) -> status of every delivery of the broadcast."""
    async with transaction(factory) as session:
        rows = await session.execute(
            select(Delivery.channel, Delivery.address, Delivery.status).where(
                Delivery.broadcast_id == broadcast_id
            )
        )
        return {(channel, address): status for channel, address, status in rows}


async def count_sending(factory: SessionFactory, broadcast_id: int) -> int:
    async with transaction(factory) as session:
        found = await session.scalar(
            select(func.count()).where(
                Delivery.broadcast_id == broadcast_id, Delivery.status == "sending"
            )
        )
        return int(found or 0)


async def errors_of(factory: SessionFactory, broadcast_id: int, status: str) -> Counter[str]:
    async with transaction(factory) as session:
        rows = await session.execute(
            select(Delivery.error).where(
                Delivery.broadcast_id == broadcast_id, Delivery.status == status
            )
        )
        return Counter(str(error) for error in rows.scalars())


async def wait_for(
    condition: Callable[[], object], timeout_s: float, what: str, poll_s: float = 0.1
) -> float:
    """Poll ``condition`` (sync or async) until it holds; the seconds it took."""
    started = time.monotonic()
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return time.monotonic() - started
        assert time.monotonic() - started < timeout_s, f"{what}: not within {timeout_s} s"
        await asyncio.sleep(poll_s)


async def completed(factory: SessionFactory, broadcast_id: int) -> bool:
    async with transaction(factory) as session:
        broadcast = await session.get(Broadcast, broadcast_id, populate_existing=True)
        return broadcast is not None and broadcast.status == "completed"


@dataclass(frozen=True)
class Outcome:
    """What a fault test counts once the broadcast completed."""

    planned: int
    final: Counter[str]
    received: Counter[str]
    twice: int

    def line(self, injected: str) -> str:
        statuses = ", ".join(f"{n} {status}" for status, n in sorted(self.final.items()))
        return (
            f"[faults] {injected}: {self.planned} planned, {statuses}; "
            f"{len(self.received)} addresses received, {self.twice} more than once"
        )


def check_outcome(
    rows: Mapping[tuple[str, str], str],
    received: Counter[str],
    *,
    expected: int,
    channel: str = "email",
    duplicates_at_most: int,
) -> Outcome:
    """Every delivery final; the sink holds exactly the addresses the ledger says were sent;
    no address received more than twice, and no more of them than ``duplicates_at_most``."""
    mine = {address: status for (ch, address), status in rows.items() if ch == channel}
    assert len(mine) == expected, f"{len(mine)} {channel} deliveries planned, not {expected}"
    final = Counter(mine.values())
    assert set(final) <= FINAL_STATUSES, f"deliveries left open: {final}"
    sent = {address for address, status in mine.items() if status in {"sent", "delivered"}}
    assert set(received) == sent, (
        f"{len(set(received) - sent)} received but not sent in the ledger, "
        f"{len(sent - set(received))} sent in the ledger but never received"
    )
    twice = sum(1 for count in received.values() if count > 1)
    assert max(received.values(), default=0) <= 2
    assert twice <= duplicates_at_most, f"{twice} addresses received twice"
    return Outcome(len(mine), final, received, twice)

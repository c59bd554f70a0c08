"""The console under load: server time of its busiest pages and the live progress's rate.

    python -m bench.console [--contacts 100000] [--sends 1000] [--requests 200] [--json]

What runs, as a deployment would run it (the pieces of :mod:`bench.fanout` and
:mod:`bench.status`):

- a fresh PostgreSQL database, migrated, seeded with one académie of ten schools and
  ``--contacts`` guardians (one email each), then ``--sends`` past sends with their deliveries,
  written in bulk by ``INSERT ... SELECT``: each to ``--send-size`` guardians of one school,
  mostly sent, one in fifty failed; and one académie-wide send still in flight (every guardian:
  60 % sent, 2 % failed, the rest queued), the one whose pages are measured; a draft
  académie-wide broadcast waiting at « Vérifier »; ``ANALYZE`` as autovacuum would have done;
- a private Redis and one API process (``broadcast serve``, uvicorn; ``--api-workers`` for
  more) on a loopback port;
- a real console session: the académie officer signs in with his password and TOTP code
  through the sign-in forms, and every request carries the session cookie.

Measured, from the client over loopback (one request at a time, so a request's time is the
server's plus a loopback round trip, well under a millisecond): p50 and p95 of ``--requests``
GETs of the dashboard (``/console/``), the draft's « Vérifier » page and the in-flight send's
page, and the time of each page's first GET (« Vérifier » counts its recipients then, and
shows them again from memory for 20 s: the p50 and p95 are of those views); then ``wrk`` (64
connections, two threads) against the send's live progress
(``/console/envois/{id}/progression``, the JSON its page polls, answered by the console's
fast path): requests per second.

Other engineers' work may share the machine's cores: the figures say what this machine gave.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pyotp
from sqlalchemy import select, text
from sqlmodel import col

from bench.fanout import (
    BenchError,
    Seeded,
    fresh_database,
    run_and_print,
    seed,
    server_url,
    stop_processes,
    worker_environment,
)
from bench.status import WRK, WrkResult, run_wrk, start_api
from broadcast.accounts.models import Operator
from broadcast.accounts.signin import set_password
from broadcast.audiences.criteria import AudienceCriteria
from broadcast.broadcasts.models import Broadcast, BroadcastStatus
from broadcast.broadcasts.schemas import BroadcastIn
from broadcast.broadcasts.service import create_draft
from broadcast.core.db import SessionFactory, create_engine, session_factory, transaction
from broadcast.core.embedded_redis import EmbeddedRedis
from broadcast.core.timeutil import utcnow
from broadcast.directory.models import ContactRole, Organisation, OrganisationKind
from broadcast.notices.models import NoticeUpdate
from broadcast.settings import Settings

PASSWORD = "une phrase de passe pour le banc"  # noqa: S105 - a throwaway database
TARGETS = {"p95_ms": 100.0, "progress_rps": 1_000.0}
SEND_CHUNK = 100
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass(frozen=True, slots=True)
class PageTiming:
    name: str
    p50_ms: float
    p95_ms: float
    requests: int
    first_ms: float = 0.0
    """The first GET, before the warm-up: « Vérifier » counts its recipients then, and shows
    them again from memory for a few seconds (:mod:`broadcast.broadcasts.recipient_counts`)."""


@dataclass(slots=True)
class Result:
    contacts: int
    sends: int
    api_workers: int = 1
    deliveries: int = 0
    seed_s: float = 0.0
    pages: list[PageTiming] = field(default_factory=list)
    progress: WrkResult | None = None
    cpus: int = field(default_factory=lambda: os.cpu_count() or 0)
    load_before: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "pages": [asdict(p) for p in self.pages],
            "progress": asdict(self.progress) if self.progress else None,
            "contacts": self.contacts,
            "sends": self.sends,
            "api_workers": self.api_workers,
            "deliveries": self.deliveries,
            "seed_s": round(self.seed_s, 1),
            "cpus": self.cpus,
            "load_average_before": self.load_before,
        }


# -- seeding (not measured) ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class World:
    seeded: Seeded
    email: str
    totp_secret: str
    draft_id: int
    send_id: int
    deliveries: int


_PAST_DELIVERIES = text(
    """
    INSERT INTO delivery (broadcast_id, channel, address, contact_id, locale, status, attempts,
                          provider_message_id, error, created_at, updated_at)
    SELECT b.id, 'email', p.address, p.contact_id, p.locale,
           CASE WHEN p.n % 50 = 0 THEN 'failed' WHEN p.n % 3 = 0 THEN 'delivered' ELSE 'sent' END,
           1, 'bench-' || b.id || '-' || p.n,
           CASE WHEN p.n % 50 = 0 THEN
                CASE WHEN p.n % 100 = 0 THEN '550 boîte inexistante' ELSE '452 boîte pleine' END
           END,
           b.queued_at, b.completed_at
    FROM broadcast b
    CROSS JOIN LATERAL (
        SELECT cp.address, cp.contact_id, c.locale, row_number() OVER (ORDER BY cp.id) AS n
        FROM contact_point cp JOIN contact c ON c.id = cp.contact_id
        WHERE c.organisation_id = b.organisation_id
        ORDER BY cp.id OFFSET (b.id * 7919) % 9000 LIMIT :size
    ) p
    WHERE b.id BETWEEN :first AND :last
    """
)
_IN_FLIGHT_DELIVERIES = text(
    """
    INSERT INTO delivery (broadcast_id, channel, address, contact_id, locale, status, attempts,
                          provider_message_id, error, created_at, updated_at)
    SELECT :broadcast_id, 'email', cp.address, cp.contact_id, c.locale,
           CASE WHEN cp.id % 50 = 0 THEN 'failed' WHEN cp.id % 5 < 3 THEN 'sent'
                ELSE 'queued' END,
           CASE WHEN cp.id % 5 < 3 OR cp.id % 50 = 0 THEN 1 ELSE 0 END,
           NULL,
           CASE WHEN cp.id % 50 = 0 THEN '550 boîte inexistante' END,
           now(), now()
    FROM contact_point cp JOIN contact c ON c.id = cp.contact_id
    """
)


async def _schools(factory: SessionFactory) -> list[int]:
    async with factory() as session:
        rows = await session.scalars(
            select(col(Organisation.id))
            .where(col(Organisation.kind) == OrganisationKind.etablissement)
            .order_by(col(Organisation.id))
        )
        return [int(school_id or 0) for school_id in rows]


async def _update_id(factory: SessionFactory, notice_id: int) -> int:
    async with factory() as session:
        found = await session.scalar(
            select(col(NoticeUpdate.id)).where(col(NoticeUpdate.notice_id) == notice_id)
        )
        assert found is not None
        return int(found)


def _sent_broadcast(seeded: Seeded, update_id: int, school_id: int, days_ago: float) -> Broadcast:
    queued = utcnow() - timedelta(days=days_ago)
    return Broadcast(
        notice_id=seeded.notice_id,
        update_id=update_id,
        organisation_id=school_id,
        audience={"organisation_ids": [school_id], "roles": [ContactRole.guardian.value]},
        channels=["email"],
        status=BroadcastStatus.completed,
        fanout_done=True,
        created_by_id=seeded.principal.operator_id,
        created_at=queued,
        queued_at=queued,
        completed_at=queued + timedelta(minutes=3),
    )


async def _seed_past_sends(factory: SessionFactory, seeded: Seeded, sends: int, size: int) -> None:
    """``sends`` completed sends to one school each, their deliveries in bulk."""
    schools = await _schools(factory)
    update_id = await _update_id(factory, seeded.notice_id)
    for start in range(0, sends, SEND_CHUNK):
        async with transaction(factory) as session:
            rows = [
                _sent_broadcast(seeded, update_id, schools[n % len(schools)], (sends - n) / 10)
                for n in range(start, min(start + SEND_CHUNK, sends))
            ]
            session.add_all(rows)
            await session.flush()
            ids = [row.id or 0 for row in rows]
            params = {"first": min(ids), "last": max(ids), "size": size}
            await session.execute(_PAST_DELIVERIES, params)


def _academie_wide(seeded: Seeded) -> BroadcastIn:
    audience = AudienceCriteria(organisation_ids=[seeded.academie_id], roles=[ContactRole.guardian])
    return BroadcastIn(notice_id=seeded.notice_id, audience=audience, channels=["email"])


async def _seed_in_flight_and_draft(factory: SessionFactory, seeded: Seeded) -> tuple[int, int]:
    """The académie-wide send in flight, with its deliveries, and a draft to check."""
    async with transaction(factory) as session:
        sending = await create_draft(session, seeded.principal, _academie_wide(seeded))
        sending.status = BroadcastStatus.sending
        sending.queued_at = utcnow() - timedelta(minutes=2)
        sending.fanout_done = True
        await session.flush()
        await session.execute(_IN_FLIGHT_DELIVERIES, {"broadcast_id": sending.id})
        draft = await create_draft(session, seeded.principal, _academie_wide(seeded))
        return sending.id or 0, draft.id or 0


async def _give_password(factory: SessionFactory, operator_id: int) -> tuple[str, str]:
    async with transaction(factory) as session:
        operator = await session.get(Operator, operator_id)
        assert operator is not None
        set_password(operator, PASSWORD)
        operator.totp_secret = pyotp.random_base32()
        return operator.email, operator.totp_secret


async def seed_world(database_url: str, contacts: int, sends: int, size: int) -> World:
    seeded = await seed(database_url, contacts)
    engine = create_engine(Settings(env="dev", database_url=database_url))
    try:
        factory = session_factory(engine)
        await _seed_past_sends(factory, seeded, sends, size)
        send_id, draft_id = await _seed_in_flight_and_draft(factory, seeded)
        email, secret = await _give_password(factory, seeded.principal.operator_id or 0)
        async with engine.connect() as connection:
            await connection.execute(text("ANALYZE"))
            total = await connection.scalar(text("SELECT count(*) FROM delivery"))
            await connection.commit()
        return World(seeded, email, secret, draft_id, send_id, int(total or 0))
    finally:
        await engine.dispose()


# -- the console session and the measures --------------------------------------------------


def _csrf(page: httpx.Response) -> str:
    found = _CSRF.search(page.text)
    if found is None:
        raise BenchError(f"no CSRF token on {page.url} ({page.status_code})")
    return found.group(1)


def _post_form(client: httpx.Client, path: str, data: dict[str, str]) -> httpx.Response:
    token = _csrf(client.get(path))
    return client.post(path, data={"csrf": token, **data})


def sign_in(client: httpx.Client, world: World) -> str:
    """Password, then the TOTP code, through the sign-in forms; the session cookie."""
    answer = _post_form(client, "/console/connexion", {"email": world.email, "password": PASSWORD})
    if answer.status_code != 303:
        raise BenchError(f"sign-in refused: {answer.status_code}")
    code = pyotp.TOTP(world.totp_secret).now()
    answer = _post_form(client, "/console/connexion/code", {"code": code})
    if answer.status_code != 303 or client.get("/console/").status_code != 200:
        raise BenchError(f"second factor refused: {answer.status_code}")
    return str(client.cookies["bc_session"])


def pages(world: World) -> dict[str, str]:
    return {
        "dashboard": "/console/",
        "Vérifier (draft)": f"/console/rediger/{world.draft_id}/verifier",
        "send's page": f"/console/envois/{world.send_id}",
    }


def _percentile(sorted_ms: Sequence[float], share: float) -> float:
    return sorted_ms[min(len(sorted_ms) - 1, int(share * len(sorted_ms)))]


def time_page(client: httpx.Client, name: str, path: str, requests: int) -> PageTiming:
    """``requests`` GETs one after the other, after five to warm up; p50 and p95 in ms, and
    the time of the first."""
    asked = time.perf_counter()
    client.get(path).raise_for_status()
    first_ms = (time.perf_counter() - asked) * 1000
    for _ in range(4):
        client.get(path).raise_for_status()
    took: list[float] = []
    for _ in range(requests):
        asked = time.perf_counter()
        answer = client.get(path)
        took.append((time.perf_counter() - asked) * 1000)
        if answer.status_code != 200:
            raise BenchError(f"{path} answered {answer.status_code}")
    took.sort()
    return PageTiming(
        name,
        round(_percentile(took, 0.5), 1),
        round(_percentile(took, 0.95), 1),
        requests,
        round(first_ms, 1),
    )


def measure(base: str, world: World, options: argparse.Namespace, result: Result) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        cookie = sign_in(client, world)
        result.pages = [
            time_page(client, name, path, options.requests) for name, path in pages(world).items()
        ]
        progress = f"/console/envois/{world.send_id}/progression"
        client.get(progress).raise_for_status()
    result.progress = run_wrk(
        "progression", f"{base}{progress}", options.duration, (f"Cookie: bc_session={cookie}",)
    )


def run(options: argparse.Namespace) -> Result:
    if shutil.which(WRK) is None:
        raise BenchError("wrk is not installed (apt-get install wrk)")
    result = Result(
        options.contacts, options.sends, options.api_workers, load_before=os.getloadavg()[0]
    )
    with (
        tempfile.TemporaryDirectory(prefix="bench-console-") as tmp,
        fresh_database(server_url()) as database_url,
        contextlib.ExitStack() as stack,
    ):
        directory = Path(tmp)
        seeding = time.perf_counter()
        world = asyncio.run(
            seed_world(database_url, options.contacts, options.sends, options.send_size)
        )
        result.seed_s = time.perf_counter() - seeding
        result.deliveries = world.deliveries
        redis_server = EmbeddedRedis(directory / "redis")
        redis_url = redis_server.start()
        stack.callback(redis_server.stop)
        env = worker_environment(database_url, redis_url, 2525, 1, {})
        api, base = start_api(env, directory, options.api_workers)
        stack.callback(stop_processes, [api])
        measure(base, world, options, result)
    return result


def verdict(value: float, target: float, at_most: bool = False) -> str:
    met = value <= target if at_most else value >= target
    return f"{'ok' if met else 'MISSED'} (target {'<' if at_most else '>='} {target:,.0f})"


def readable(result: Result) -> str:
    lines = [
        f"console, {result.api_workers} API process(es), {result.contacts:,} contacts, "
        f"{result.sends:,} past sends, {result.deliveries:,} deliveries "
        f"(seeded in {result.seed_s:.0f} s), {result.cpus} "
        f"CPUs shared (load average before: {result.load_before:.1f})",
        f"  {'page':20} {'p50':>9} {'p95':>9} {'first':>9}",
    ]
    for p in result.pages:
        lines.append(
            f"  {p.name:20} {p.p50_ms:6.1f} ms {p.p95_ms:6.1f} ms {p.first_ms:6.0f} ms  "
            f"{verdict(p.p95_ms, TARGETS['p95_ms'], at_most=True)}  ({p.requests} requests)"
        )
    if result.progress is not None:
        r = result.progress
        lines.append(
            f"  {'progression (wrk)':20} {r.rps:>8,.0f} req/s  p50 {r.p50_ms:.1f} ms  "
            f"p99 {r.p99_ms:.1f} ms  non-2xx {r.non_2xx}  "
            f"{verdict(r.rps, TARGETS['progress_rps'])}"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.console", description=__doc__)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--sends", type=int, default=1_000, help="past sends, one school each")
    parser.add_argument("--send-size", type=int, default=1_000, help="deliveries per past send")
    parser.add_argument("--requests", type=int, default=200, help="sequential GETs per page")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of wrk")
    parser.add_argument(
        "--api-workers", type=int, default=1, help="uvicorn processes of the API (default 1)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.contacts < 10 or args.sends < 1 or args.requests < 1:
        parser.error("--contacts must be at least 10, --sends and --requests at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    result = run_and_print(
        "bench.console",
        lambda: run(options),
        readable,
        as_json=options.json,
        errors=(BenchError, subprocess.CalledProcessError, httpx.HTTPError),
    )
    return 0 if result is not None else 1


if __name__ == "__main__":
    sys.exit(main())

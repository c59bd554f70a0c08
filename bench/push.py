"""The web-push benchmark: one push broadcast to N subscriptions, through real worker processes.

    python -m bench.push [--messages 20000] [--workers 2] [--timeout 900] [--json]

The shape of :mod:`bench.fanout`, whose helpers it reuses: a fresh PostgreSQL database, a private
Redis, ``--workers`` processes of ``broadcast worker`` with rate limits off and a VAPID key, and
the push service in its own process. By default that is the count-only push service
(``python -m broadcast.sandbox.push_counter``): the decrypting sandbox of the tests spends more
CPU per message than the sender, and would measure itself. The workers do all the real work:
RFC 8291 encryption and an RFC 8292 signature per message, an HTTP POST over pooled keep-alive
connections, the subscriptions read once per group, the results written in bulk.

Seeding (N guardians in ten schools, each with one push subscription and its contact point, then
``ANALYZE``) is not measured. The clock starts when the fan-out job is enqueued:

- ``planned_per_s``: N / time until fan-out is done and N deliveries exist;
- ``sent_per_s``: N / time until every delivery is ``sent`` (status written);
- ``end_to_end_s``: time until the broadcast is ``completed``;
- ``worker_peak_rss_mb``: the peak RSS of the largest worker process;
- ``sink_received``: messages the push service accepted (must equal N).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import insert, text
from sqlmodel import col

from bench import fanout
from bench.fanout import (
    MB,
    SCHOOLS,
    BenchError,
    Deadline,
    Result,
    RssSampler,
    Seeded,
    Sink,
    Timings,
    _ensure_alive,
    _read_line,
    _redis_clients,
    _seed_operator_and_notice,
    _seed_organisations,
    _spawn,
    _tail,
    fresh_database,
    server_url,
    start_workers,
    stop_processes,
    watch,
    worker_environment,
)
from broadcast.channels.base import ChannelName
from broadcast.channels.push.vapid import generate_vapid_keys
from broadcast.core.db import SessionFactory, create_engine, session_factory, transaction
from broadcast.core.embedded_redis import EmbeddedRedis
from broadcast.core.redis_url import connect as connect_redis
from broadcast.core.uow import enqueue_after_commit
from broadcast.directory.models import ContactPoint, ContactRole, PushSubscription
from broadcast.directory.schemas import ContactIn
from broadcast.directory.service import insert_contacts
from broadcast.jobs import fanout_job
from broadcast.settings import Settings

SEED_CHUNK = 10_000
START_TIMEOUT_S = 60.0
VAPID_SUBJECT = "mailto:bench@broadcast.invalid"
TARGETS = {"sent_per_s": 1_000.0, "worker_peak_rss_mb": 300.0}


@dataclass(frozen=True, slots=True)
class Options:
    messages: int
    workers: int
    timeout_s: float
    worker_env: Mapping[str, str]
    as_json: bool


# -- seeding (not measured) ----------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def browser_keys() -> tuple[str, str]:
    """One browser key pair (p256dh, auth) for every subscription: each message is encrypted
    with its own ephemeral key anyway, and only the count-only service receives them."""
    point = ec.generate_private_key(ec.SECP256R1()).public_key()
    raw = point.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return _b64url(raw), _b64url(os.urandom(16))


def _guardians(school_ids: Sequence[int], start: int, stop: int) -> list[ContactIn]:
    return [
        ContactIn.model_construct(
            organisation_id=school_ids[n % len(school_ids)],
            first_name="Parent",
            last_name=f"N{n}",
            role=ContactRole.guardian,
            level="6e",
            division="6e A",
            locale="en" if n % 25 == 0 else "fr",
            email=None,
            mobile=None,
        )
        for n in range(start, stop)
    ]


async def _seed_subscribed_guardians(
    factory: SessionFactory, school_ids: Sequence[int], total: int, sink_port: int
) -> None:
    p256dh, auth = browser_keys()
    for start in range(0, total, SEED_CHUNK):
        stop = min(start + SEED_CHUNK, total)
        async with transaction(factory) as session:
            contact_ids = await insert_contacts(session, _guardians(school_ids, start, stop))
            rows = [
                {
                    "contact_id": contact_id,
                    "endpoint": f"http://127.0.0.1:{sink_port}/push/{n}",
                    "p256dh": p256dh,
                    "auth": auth,
                }
                for n, contact_id in zip(range(start, stop), contact_ids, strict=True)
            ]
            result = await session.execute(
                insert(PushSubscription).returning(
                    col(PushSubscription.id), col(PushSubscription.contact_id)
                ),
                rows,
            )
            points = [
                {"contact_id": contact_id, "channel": ChannelName.push.value, "address": str(i)}
                for i, contact_id in result.all()
            ]
            await session.execute(insert(ContactPoint), points)


async def seed(database_url: str, messages: int, sink_port: int) -> Seeded:
    engine = create_engine(Settings(env="dev", database_url=database_url))
    try:
        factory = session_factory(engine)
        academie, school_ids = await _seed_organisations(factory)
        assert len(school_ids) == SCHOOLS
        await _seed_subscribed_guardians(factory, school_ids, messages, sink_port)
        seeded = await _seed_operator_and_notice(factory, academie)
        async with engine.connect() as connection:
            await connection.execute(text("ANALYZE"))
            await connection.commit()
        return seeded
    finally:
        await engine.dispose()


# -- processes -----------------------------------------------------------------------------


def start_push_sink(directory: Path) -> Sink:
    count_file = directory / "push-count"
    process = _spawn(
        ["-m", "broadcast.sandbox.push_counter", "--port", "0", "--count-file", str(count_file)],
        directory / "push.log",
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    line = _read_line(process.stdout, Deadline.after(START_TIMEOUT_S)).decode().strip()
    if "listening on" not in line:
        stop_processes([process])
        raise BenchError(f"the push sink did not start: {line!r} {_tail(directory / 'push.log')}")
    return Sink(process, int(line.rpartition(":")[2]), count_file)


def closed_port() -> int:
    """A port nothing listens on: the workers' SMTP relay, unused here, fails fast."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def push_worker_environment(
    database_url: str, redis_url: str, vapid_private_key: str, extra: Mapping[str, str]
) -> dict[str, str]:
    env = worker_environment(database_url, redis_url, closed_port(), 1, {})
    env.update(BROADCAST_VAPID_PRIVATE_KEY=vapid_private_key, BROADCAST_VAPID_SUBJECT=VAPID_SUBJECT)
    env.update(extra)
    return env


def wait_until_ready(
    workers: Sequence[subprocess.Popen[bytes]], redis_url: str, directory: Path, deadline: Deadline
) -> None:
    """Each worker has opened its Redis pools (resources, two queues)."""
    while _redis_clients(redis_url) < 3 * len(workers) + 1:
        _ensure_alive(workers, directory)
        deadline.check("waiting for the workers to start")
        time.sleep(0.1)
    time.sleep(1.0)  # from the pools being open to the first poll of the queues


# -- the measured part ---------------------------------------------------------------------


async def send_and_watch(
    database_url: str,
    redis_url: str,
    seeded: Seeded,
    messages: int,
    deadline: Deadline,
    check_alive: Callable[[], None],
) -> Timings:
    engine = create_engine(Settings(env="dev", database_url=database_url), pool_size=2)
    arq_pool = await connect_redis(redis_url)
    try:
        factory = session_factory(engine)
        broadcast = await fanout.create_and_confirm(factory, seeded, ChannelName.push)
        assert broadcast.id is not None
        started = time.perf_counter()
        async with transaction(factory, arq_pool) as session:
            enqueue_after_commit(session, fanout_job(broadcast.id, broadcast.priority))
        return await watch(factory, broadcast.id, messages, started, deadline, check_alive)
    finally:
        await arq_pool.aclose()
        await engine.dispose()


def run(options: Options) -> Result:
    """Everything, from a fresh database to the stopped processes; raises BenchError."""
    deadline = Deadline.after(options.timeout_s)
    server = server_url()
    result = Result(options.messages, options.workers, server.get_backend_name())
    vapid_private_key, _ = generate_vapid_keys()
    with (
        tempfile.TemporaryDirectory(prefix="bench-push-") as tmp,
        fresh_database(server) as database_url,
        contextlib.ExitStack() as stack,
    ):
        directory = Path(tmp)
        sink = start_push_sink(directory)
        stack.callback(stop_processes, [sink.process])
        seeding = time.perf_counter()
        seeded = asyncio.run(seed(database_url, options.messages, sink.port))
        result.seed_s = time.perf_counter() - seeding
        redis_server = EmbeddedRedis(directory / "redis")
        redis_url = redis_server.start()
        stack.callback(redis_server.stop)
        env = push_worker_environment(
            database_url, redis_url, vapid_private_key, options.worker_env
        )
        workers = start_workers(options.workers, env, directory)
        stack.callback(stop_processes, workers)
        sampler = RssSampler([w.pid for w in workers])
        sampler.start()
        wait_until_ready(workers, redis_url, directory, deadline)
        sampler.sample()
        result.worker_idle_rss = dict(sampler.latest)
        result.timings = asyncio.run(
            send_and_watch(
                database_url,
                redis_url,
                seeded,
                options.messages,
                deadline,
                lambda: _ensure_alive(workers, directory),
            )
        )
        sampler.stop()
        result.worker_peak_rss = dict(sampler.peaks)
        stop_processes([sink.process])  # writes its count once more on the way out
        result.sink_received = sink.received()
    _check(result, deadline)
    return result


def _check(result: Result, deadline: Deadline) -> None:
    timings = result.timings
    if timings.completed_s is None:
        where = "timed out" if deadline.remaining() <= 0 else f"stopped as {timings.status!r}"
        result.error = f"broadcast {where}: {timings.planned} planned, {timings.sent} sent"
    elif timings.sent != result.recipients or result.sink_received != result.recipients:
        result.error = (
            f"{timings.sent} deliveries sent and {result.sink_received} pushes received, "
            f"for {result.recipients} subscriptions"
        )


# -- command line --------------------------------------------------------------------------


def summary(result: Result) -> dict[str, Any]:
    values = result.summary()
    values["messages"] = values.pop("recipients")
    return values


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.push",
        description="Web-push benchmark: one push broadcast to N subscriptions, real workers.",
    )
    parser.add_argument("--messages", type=int, default=20_000, help="default 20000")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds, for everything")
    parser.add_argument(
        "--worker-env",
        type=fanout.key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the workers (repeatable)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args(argv)
    if args.messages < 1 or args.workers < 1:
        parser.error("--messages and --workers must be at least 1")
    return Options(args.messages, args.workers, args.timeout, dict(args.worker_env), args.json)


def readable(result: Result) -> str:
    values = summary(result)
    lines = [
        f"one web-push broadcast to {result.recipients:,} subscriptions, "
        f"{result.workers} worker process(es), {result.database}",
        f"  seeding (not measured)  {result.seed_s:.1f} s",
        f"  planned                 {values['planned_per_s'] or 0:,.0f} deliveries/s",
        f"  sent (status written)   {values['sent_per_s'] or 0:,.0f} pushes/s   "
        + fanout.verdict("sent_per_s", values["sent_per_s"], TARGETS),
        f"  end to end              {values['end_to_end_s'] or 0:.2f} s",
        f"  worker peak RSS         {values['worker_peak_rss_mb'] or 0:.0f} MB   "
        + fanout.verdict("worker_peak_rss_mb", values["worker_peak_rss_mb"], TARGETS),
        "  per worker (idle -> peak) "
        + ", ".join(
            f"{result.worker_idle_rss.get(pid, 0) / MB:.0f} MB -> {peak / MB:.0f} MB"
            for pid, peak in result.worker_peak_rss.items()
        ),
        f"  push service received   {result.sink_received}",
    ]
    if result.error:
        lines.append(f"  ERROR: {result.error}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    signal.signal(signal.SIGTERM, fanout.exit_on_sigterm)
    try:
        result = run(options)
    except BenchError as exc:
        print(f"bench.push: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary(result)) if options.as_json else readable(result), flush=True)
    if result.error and options.as_json:
        print(f"bench.push: {result.error}", file=sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())

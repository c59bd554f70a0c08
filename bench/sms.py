"""The SMS benchmark: one SMS broadcast to N guardians, through real worker processes.

    python -m bench.sms [--messages 10000] [--workers 2] [--timeout 900] [--json]

It runs as :mod:`bench.fanout` does (a fresh PostgreSQL database, a private Redis, ``--workers``
processes of ``broadcast worker``, rate limits off) and reuses its helpers; only the channel
differs. The SMS leave through the real worker path, twilio's own async client, to the Twilio
sandbox (:class:`broadcast.sandbox.twilio.TwilioSandbox`) in a process of its own, which answers
each create as Twilio does. By default status callbacks are off (the sandbox holds them): what
is timed is the send and the status written by the dispatcher, ``sent`` with Twilio's SID, as the
email benchmark times ``sent``. With ``--callbacks`` the API runs too (``broadcast serve``) and
the sandbox posts every callback ("sent", then "delivered"), signed, as soon as it answered the
create, so many arrive before the dispatcher stored the SID: ``delivered_per_s`` then times the
callbacks written as well. The SMTP sink runs too, only because every worker opens its email
pool at start.

- ``sent_per_s``: N / time from the fan-out enqueue until every delivery is ``sent`` (or
  already ``delivered``, with ``--callbacks``);
- ``planned_per_s``, ``end_to_end_s``, ``worker_peak_rss_mb``: as in :mod:`bench.fanout`;
- ``delivered_per_s`` (``--callbacks``): N / time until every delivery is ``delivered``;
- ``sink_received``: messages the Twilio sandbox accepted (must equal N).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import text

from bench import fanout
from bench.fanout import BenchError, Deadline, Result, Seeded, Timings
from broadcast.channels.base import ChannelName
from broadcast.core.db import SessionFactory, create_engine, session_factory, transaction
from broadcast.core.embedded_redis import EmbeddedRedis
from broadcast.core.redis_url import connect as connect_redis
from broadcast.core.uow import enqueue_after_commit
from broadcast.deliveries.models import DeliveryStatus
from broadcast.directory.schemas import ContactIn
from broadcast.directory.service import insert_contacts
from broadcast.jobs import fanout_job
from broadcast.sandbox.counting import report_count_until_stopped
from broadcast.sandbox.twilio import Deliver, TwilioSandbox
from broadcast.settings import Settings

ACCOUNT_SID = "AC" + "b" * 32
AUTH_TOKEN = "bench-sandbox-auth-token"  # noqa: S105 - the local sandbox's, nothing real
SMTP_CONNECTIONS = 2
COUNT_EVERY_S = 0.5
TARGETS = {"sent_per_s": 500.0, "worker_peak_rss_mb": 300.0}


@dataclass(frozen=True, slots=True)
class Options:
    messages: int
    workers: int
    timeout_s: float
    worker_env: dict[str, str] = field(default_factory=dict)
    as_json: bool = False
    callbacks: bool = False


@dataclass(slots=True)
class SmsResult(Result):
    callbacks: bool = False
    delivered_s: float | None = None
    delivered: int = 0

    @property
    def ok(self) -> bool:
        return Result.ok.fget(self) and (  # type: ignore[attr-defined]
            not self.callbacks or self.delivered == self.recipients
        )

    def summary(self) -> dict[str, Any]:
        summary = Result.summary(self)
        if self.callbacks:
            summary["delivered_per_s"] = self.rate(self.delivered_s)
            summary["delivered"] = self.delivered
        return summary


# -- the Twilio sandbox, in its own process -----------------------------------------------


def _pooled_poster(session: aiohttp.ClientSession) -> Deliver:
    """Callbacks over one pooled client session (the sandbox's default opens one per post)."""

    async def deliver(url: str, params: dict[str, str], headers: dict[str, str]) -> int:
        async with session.post(url, data=params, headers=headers) as response:
            return response.status

    return deliver


async def serve_sandbox(count_file: Path, callbacks: bool) -> None:
    """Run the sandbox until SIGTERM, writing how many messages it accepted to ``count_file``."""
    async with aiohttp.ClientSession() as session:
        sandbox = TwilioSandbox(ACCOUNT_SID, AUTH_TOKEN, deliver=_pooled_poster(session))
        sandbox.hold_callbacks = not callbacks
        sandbox.callback_delay_s = 0.0  # as soon as Twilio could
        await _run_sandbox(sandbox, count_file)


async def _run_sandbox(sandbox: TwilioSandbox, count_file: Path) -> None:
    await sandbox.start()
    print(f"listening on {sandbox.host}:{sandbox.port}", flush=True)
    try:
        await report_count_until_stopped(count_file, lambda: len(sandbox.messages), COUNT_EVERY_S)
    finally:
        await sandbox.stop()


def start_sandbox(directory: Path, callbacks: bool) -> fanout.Sink:
    count_file = directory / "sms-count"
    process = fanout._spawn(
        ["-m", "bench.sms", "--serve-sandbox", str(count_file)]
        + (["--callbacks"] if callbacks else []),
        directory / "twilio.log",
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    line = fanout._read_line(process.stdout, Deadline.after(fanout.START_TIMEOUT_S))
    if b"listening on" not in line:
        fanout.stop_processes([process])
        log = fanout._tail(directory / "twilio.log")
        raise BenchError(f"the Twilio sandbox did not start: {line!r} {log}")
    return fanout.Sink(process, int(line.decode().strip().rpartition(":")[2]), count_file)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_api(env: dict[str, str], directory: Path, deadline: Deadline) -> subprocess.Popen[bytes]:
    """``broadcast serve`` at ``BROADCAST_PUBLIC_BASE_URL``, once it answers /healthz."""
    base_url = env["BROADCAST_PUBLIC_BASE_URL"]
    port = base_url.rpartition(":")[2]
    process = fanout._spawn(
        ["-m", "broadcast.cli", "serve", "--port", port], directory / "api.log", env
    )
    while not _answers(base_url + "/healthz"):
        if process.poll() is not None:
            raise BenchError(f"the API exited: {fanout._tail(directory / 'api.log')}")
        deadline.check("waiting for the API")
        time.sleep(0.1)
    return process


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - local http
            return bool(response.status == 200)
    except OSError:
        return False


def twilio_environment(sandbox_port: int) -> dict[str, str]:
    account = {
        "name": "bench",
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "sender_id": "RECTORAT",
        "base_url": f"http://127.0.0.1:{sandbox_port}",
    }
    return {"BROADCAST_TWILIO_ACCOUNTS": json.dumps([account])}


# -- seeding (not measured) ----------------------------------------------------------------


def _guardians_with_mobiles(school_ids: Sequence[int], start: int, stop: int) -> list[ContactIn]:
    """The email benchmark's guardians, each with a distinct French mobile and no email."""
    return [
        row.model_copy(update={"email": None, "mobile": f"+336{n:08d}"})
        for n, row in zip(
            range(start, stop), fanout._guardians(school_ids, start, stop), strict=True
        )
    ]


async def seed(database_url: str, messages: int) -> Seeded:
    engine = create_engine(Settings(env="dev", database_url=database_url))
    try:
        factory = session_factory(engine)
        academie, school_ids = await fanout._seed_organisations(factory)
        for start in range(0, messages, fanout.SEED_CHUNK):
            rows = _guardians_with_mobiles(
                school_ids, start, min(start + fanout.SEED_CHUNK, messages)
            )
            async with transaction(factory) as session:
                await insert_contacts(session, rows)
        seeded = await fanout._seed_operator_and_notice(factory, academie)
        async with engine.connect() as connection:
            await connection.execute(text("ANALYZE"))
            await connection.commit()
        return seeded
    finally:
        await engine.dispose()


# -- the measured part ---------------------------------------------------------------------


SENT_OR_LATER = ("sent", "delivered")
_NOT_YET_SENT = [s.value for s in DeliveryStatus if s.value not in SENT_OR_LATER]
_TALLY = text(
    "SELECT count(*), count(*) FILTER (WHERE status IN ('sent', 'delivered')) FROM delivery"
    " WHERE broadcast_id = :broadcast_id"
)


async def _probe(factory: SessionFactory, broadcast_id: int, count_planned: bool) -> fanout.Probe:
    """:func:`bench.fanout._probe`, where a delivery already ``delivered`` counts as sent."""
    params = {"broadcast_id": broadcast_id, "count_planned": count_planned, "unsent": _NOT_YET_SENT}
    async with factory() as session:
        row = (await session.execute(fanout._PROBE, params)).one()
    status, fanout_done, planned, any_unsent = row
    return fanout.Probe(str(status), bool(fanout_done), planned, bool(any_unsent))


async def watch(
    factory: SessionFactory,
    broadcast_id: int,
    recipients: int,
    started: float,
    deadline: Deadline,
    check_alive: Callable[[], None],
) -> Timings:
    """:func:`bench.fanout.watch` with that probe: poll until the broadcast completes."""
    timings = Timings()
    while True:
        asked = time.perf_counter()
        probe = await _probe(factory, broadcast_id, count_planned=timings.planned_s is None)
        stopped = fanout._observe(timings, probe, asked - started, recipients)
        if stopped or deadline.remaining() <= 0:
            break
        check_alive()
        await asyncio.sleep(max(fanout.POLL_S - (time.perf_counter() - asked), 0))
    async with factory() as session:
        planned, sent = (await session.execute(_TALLY, {"broadcast_id": broadcast_id})).one()
    timings.planned, timings.sent = int(planned), int(sent)
    return timings


_WAITING = text(
    "SELECT EXISTS (SELECT 1 FROM delivery WHERE broadcast_id = :broadcast_id"
    " AND channel = 'sms' AND status IN ('queued', 'sending', 'sent'))"
)
_DELIVERED = text(
    "SELECT count(*) FROM delivery WHERE broadcast_id = :broadcast_id AND status = 'delivered'"
)


async def watch_delivered(
    factory: SessionFactory, broadcast_id: int, started: float, deadline: Deadline
) -> tuple[float | None, int]:
    """After the broadcast completed: seconds until no delivery waits for its callback, and
    how many ended ``delivered``."""
    params = {"broadcast_id": broadcast_id}
    elapsed: float | None = None
    while deadline.remaining() > 0:
        asked = time.perf_counter()
        async with factory() as session:
            if not (await session.execute(_WAITING, params)).scalar():
                elapsed = asked - started
                break
        await asyncio.sleep(max(fanout.POLL_S - (time.perf_counter() - asked), 0))
    async with factory() as session:
        delivered = int((await session.execute(_DELIVERED, params)).scalar() or 0)
    return elapsed, delivered


async def send_and_watch(
    database_url: str,
    redis_url: str,
    seeded: Seeded,
    result: SmsResult,
    deadline: Deadline,
    check_alive: Callable[[], None],
) -> None:
    engine = create_engine(Settings(env="dev", database_url=database_url), pool_size=2)
    arq_pool = await connect_redis(redis_url)
    try:
        factory = session_factory(engine)
        broadcast = await fanout.create_and_confirm(factory, seeded, ChannelName.sms)
        assert broadcast.id is not None
        started = time.perf_counter()
        async with transaction(factory, arq_pool) as session:
            enqueue_after_commit(session, fanout_job(broadcast.id, broadcast.priority))
        result.timings = await watch(
            factory, broadcast.id, result.recipients, started, deadline, check_alive
        )
        if result.callbacks and result.timings.completed_s is not None:
            watched = await watch_delivered(factory, broadcast.id, started, deadline)
            result.delivered_s, result.delivered = watched
    finally:
        await arq_pool.aclose()
        await engine.dispose()


def _run_pipeline(
    options: Options,
    database_url: str,
    seeded: Seeded,
    directory: Path,
    result: SmsResult,
    deadline: Deadline,
    stack: contextlib.ExitStack,
) -> fanout.Sink:
    redis_server = EmbeddedRedis(directory / "redis")
    redis_url = redis_server.start()
    stack.callback(redis_server.stop)
    sink = fanout.start_sink(directory, recording=False)
    stack.callback(fanout.stop_processes, [sink.process])
    sandbox = start_sandbox(directory, options.callbacks)
    stack.callback(fanout.stop_processes, [sandbox.process])
    extra = {
        **twilio_environment(sandbox.port),
        "BROADCAST_PUBLIC_BASE_URL": f"http://127.0.0.1:{_free_port()}",
        **options.worker_env,
    }
    env = fanout.worker_environment(database_url, redis_url, sink.port, SMTP_CONNECTIONS, extra)
    if options.callbacks:
        stack.callback(fanout.stop_processes, [start_api(env, directory, deadline)])
    workers = fanout.start_workers(options.workers, env, directory)
    stack.callback(fanout.stop_processes, workers)
    sampler = fanout.RssSampler([w.pid for w in workers])
    sampler.start()
    stack.callback(fanout._keep_peaks, sampler, result)
    fanout.wait_until_ready(workers, sink.port, SMTP_CONNECTIONS, redis_url, directory, deadline)
    sampler.sample()
    result.worker_idle_rss = dict(sampler.latest)
    asyncio.run(
        send_and_watch(
            database_url,
            redis_url,
            seeded,
            result,
            deadline,
            lambda: fanout._ensure_alive(workers, directory),
        )
    )
    return sandbox


def run(options: Options) -> SmsResult:
    """Everything, from a fresh database to the stopped processes; raises BenchError."""
    deadline = Deadline.after(options.timeout_s)
    server = fanout.server_url()
    result = SmsResult(
        options.messages, options.workers, server.get_backend_name(), callbacks=options.callbacks
    )
    with (
        tempfile.TemporaryDirectory(prefix="bench-sms-") as tmp,
        fanout.fresh_database(server) as database_url,
    ):
        directory = Path(tmp)
        seeding = time.perf_counter()
        seeded = asyncio.run(
            asyncio.wait_for(seed(database_url, options.messages), max(deadline.remaining(), 1))
        )
        result.seed_s = time.perf_counter() - seeding
        with contextlib.ExitStack() as stack:
            sandbox = _run_pipeline(
                options, database_url, seeded, directory, result, deadline, stack
            )
        result.sink_received = sandbox.received()  # written once more by the sandbox on exit
    fanout._check(result, deadline)
    if result.callbacks and result.error is None and result.delivered != result.recipients:
        result.error = f"{result.delivered} delivered for {result.recipients} recipients"
    return result


# -- command line --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServeSandbox:
    """``--serve-sandbox``: this process is the benchmark's Twilio sandbox."""

    count_file: Path
    callbacks: bool


def parse_args(argv: Sequence[str] | None = None) -> Options | ServeSandbox:
    parser = argparse.ArgumentParser(
        prog="python -m bench.sms",
        description="SMS benchmark: one SMS broadcast to N recipients through real workers.",
    )
    parser.add_argument("--messages", type=int, default=10_000, help="default 10000")
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
    parser.add_argument(
        "--callbacks",
        action="store_true",
        help="run the API and have the sandbox post every status callback (delivered_per_s)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--serve-sandbox", type=Path, metavar="COUNT_FILE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_sandbox is not None:
        return ServeSandbox(Path(args.serve_sandbox), args.callbacks)
    if args.messages < 1 or args.workers < 1:
        parser.error("--messages and --workers must be at least 1")
    return Options(
        args.messages,
        args.workers,
        args.timeout,
        dict(args.worker_env),
        args.json,
        args.callbacks,
    )


def readable(result: SmsResult) -> str:
    summary = result.summary()
    lines = [
        f"one SMS broadcast to {result.recipients:,} recipients through the Twilio sandbox, "
        f"{result.workers} worker process(es), {result.database}",
        f"  seeding (not measured)  {result.seed_s:.1f} s",
        f"  planned                 {summary['planned_per_s'] or 0:,.0f} deliveries/s",
        f"  sent (status written)   {summary['sent_per_s'] or 0:,.0f} SMS/s   "
        + fanout.verdict("sent_per_s", summary["sent_per_s"], TARGETS),
        f"  end to end              {summary['end_to_end_s'] or 0:.2f} s",
        f"  worker peak RSS         {summary['worker_peak_rss_mb'] or 0:.0f} MB   "
        + fanout.verdict("worker_peak_rss_mb", summary["worker_peak_rss_mb"], TARGETS),
        f"  sandbox received        {result.sink_received}",
    ]
    if result.callbacks:
        lines.insert(
            4,
            f"  delivered (callbacks)   {summary.get('delivered_per_s') or 0:,.0f} SMS/s   "
            f"({result.delivered:,} delivered)",
        )
    if result.error:
        lines.append(f"  ERROR: {result.error}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    if isinstance(options, ServeSandbox):
        asyncio.run(serve_sandbox(options.count_file, options.callbacks))
        return 0
    signal.signal(signal.SIGTERM, fanout.exit_on_sigterm)
    try:
        result = run(options)
    except BenchError as exc:
        print(f"bench.sms: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result.summary()) if options.as_json else readable(result), flush=True)
    if result.error and options.as_json:
        print(f"bench.sms: {result.error}", file=sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""The fan-out benchmark: one email broadcast to N guardians, through real worker processes.

    python -m bench.fanout [--recipients 100000] [--workers 2] [--timeout 900] [--json]

What runs, as a deployment would run it:

- PostgreSQL: the one named by ``BROADCAST_DATABASE_URL``, else
  :func:`broadcast.sandbox.devservices.postgres_url` (a local server or a throwaway cluster).
  A fresh database ``bench_fanout_<random>`` is created, migrated, and dropped at the end.
- A private Redis (:class:`broadcast.core.embedded_redis.EmbeddedRedis`), the SMTP sink
  (``python -m broadcast.sandbox.smtp --counting``, or the aiosmtpd one with
  ``--recording-sink``) and ``--workers`` processes of ``broadcast worker``, each
  in its own process, with rate limits off and one relay of ``--smtp-connections`` connections.
  ``--smtp HOST:PORT`` sends to an SMTP server already running instead (another mailer's
  sink, say, so that both are measured against the very same one); what it received is then
  its own to count, and ``sink_received`` is not checked.

Seeding (N contacts with one email each in ten schools of one académie, then ``ANALYZE``, as
autovacuum would have done on a real directory) is not measured. The clock starts when the
fan-out job is enqueued, right after the transaction that creates and confirms the broadcast
commits, as the API's confirm route does. The database is polled every 0.25 s (see ``_PROBE``):

- ``planned_per_s``: N / time until ``fanout_done`` and N deliveries exist (a COUNT);
- ``sent_per_s``: N / time until every one of the N deliveries is ``sent`` (status written);
- ``end_to_end_s``: time until the broadcast is ``completed``;
- ``worker_peak_rss_mb``: the peak RSS of the largest worker process, sampled every 0.1 s;
- ``sink_received``: messages the sink accepted (must equal N).

Every process the benchmark starts is stopped on the way out, whatever happens. The workers get
no inherited ``BROADCAST_*`` variable; ``--worker-env KEY=VALUE`` adds one for an experiment (a
tuning setting, a profiler hook on ``PYTHONPATH``); published numbers use none.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from select import select as wait_readable
from typing import IO, Any, NoReturn, Protocol, TypeVar

import psutil
import redis
from sqlalchemy import bindparam, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from broadcast.accounts.models import Role
from broadcast.accounts.service import Principal, create_operator, principal_for
from broadcast.audiences.criteria import AudienceCriteria
from broadcast.broadcasts.models import Broadcast, BroadcastStatus
from broadcast.broadcasts.schemas import BroadcastIn
from broadcast.broadcasts.service import confirm, create_draft
from broadcast.channels.base import ChannelName
from broadcast.core.db import SessionFactory, create_engine, session_factory, transaction
from broadcast.core.embedded_redis import EmbeddedRedis
from broadcast.core.migrations import upgrade
from broadcast.core.redis_url import connect as connect_redis
from broadcast.core.uow import enqueue_after_commit
from broadcast.deliveries.models import DeliveryStatus
from broadcast.directory.models import ContactRole, Organisation, OrganisationKind
from broadcast.directory.schemas import ContactIn
from broadcast.directory.service import create_organisation, insert_contacts
from broadcast.directory.uai import make_uai
from broadcast.jobs import fanout_job
from broadcast.notices.schemas import NoticeIn
from broadcast.notices.service import create_notice
from broadcast.sandbox.devservices import postgres_url
from broadcast.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SCHOOLS = 10
SEED_CHUNK = 10_000
POLL_S = 0.25
RSS_SAMPLE_S = 0.1
STOP_GRACE_S = 10.0
START_TIMEOUT_S = 60.0
LEVELS = ("6e", "5e", "4e", "3e")
MB = 1024 * 1024
TARGETS = {"planned_per_s": 10_000.0, "sent_per_s": 1_000.0, "worker_peak_rss_mb": 300.0}


class BenchError(RuntimeError):
    """The benchmark could not run or finish (timeout, a process died, a wrong count)."""


@dataclass(frozen=True, slots=True)
class Options:
    recipients: int
    workers: int
    timeout_s: float
    smtp_connections: int
    worker_env: Mapping[str, str]
    as_json: bool
    recording_sink: bool = False
    smtp: tuple[str, int] | None = None
    """An SMTP server already running, instead of the benchmark's own sink."""


@dataclass(frozen=True, slots=True)
class Deadline:
    at: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds)

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def check(self, doing: str) -> None:
        if self.remaining() <= 0:
            raise BenchError(f"timed out while {doing}")


@dataclass(slots=True)
class Timings:
    """Seconds from the enqueue of the fan-out job; None for what did not happen in time."""

    planned_s: float | None = None
    sent_s: float | None = None
    completed_s: float | None = None
    planned: int = 0
    sent: int = 0
    status: str = ""


@dataclass(slots=True)
class Result:
    recipients: int
    workers: int
    database: str
    seed_s: float = 0.0
    timings: Timings = field(default_factory=Timings)
    worker_idle_rss: dict[int, int] = field(default_factory=dict)
    worker_peak_rss: dict[int, int] = field(default_factory=dict)
    sink_received: int | None = None
    error: str | None = None
    external_sink: bool = False

    @property
    def ok(self) -> bool:
        return (
            self.error is None
            and self.timings.completed_s is not None
            and self.timings.sent == self.recipients
            and (self.external_sink or self.sink_received == self.recipients)
        )

    def rate(self, seconds: float | None) -> float | None:
        return round(self.recipients / seconds, 1) if seconds else None

    def summary(self) -> dict[str, Any]:
        timings = self.timings
        peak = max(self.worker_peak_rss.values(), default=0)
        return {
            "recipients": self.recipients,
            "planned_per_s": self.rate(timings.planned_s),
            "sent_per_s": self.rate(timings.sent_s),
            "end_to_end_s": round(timings.completed_s, 2) if timings.completed_s else None,
            "worker_peak_rss_mb": round(peak / MB, 1) if peak else None,
            "sink_received": self.sink_received,
            "workers": self.workers,
            "database": self.database,
        }


# -- the database --------------------------------------------------------------------------


def server_url() -> URL:
    url = make_url(os.environ.get("BROADCAST_DATABASE_URL") or postgres_url())
    if url.get_backend_name() != "postgresql":
        raise BenchError(f"the fan-out benchmark needs PostgreSQL, not {url.get_backend_name()}")
    return url.set(drivername="postgresql+asyncpg")


def _as_string(url: URL) -> str:
    return url.render_as_string(hide_password=False)


async def _execute_outside_transaction(url: URL, statement: str) -> None:
    engine = create_async_engine(_as_string(url), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@contextlib.contextmanager
def fresh_database(server: URL) -> Iterator[str]:
    """A new, migrated database on ``server``, dropped (connections and all) on the way out."""
    name = f"bench_fanout_{secrets.token_hex(4)}"
    asyncio.run(_execute_outside_transaction(server, f'CREATE DATABASE "{name}"'))
    try:
        url = _as_string(server.set(database=name))
        upgrade(url)
        yield url
    finally:
        asyncio.run(
            _execute_outside_transaction(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        )


# -- seeding (not measured) ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Seeded:
    principal: Principal
    academie_id: int
    notice_id: int


async def _seed_organisations(factory: SessionFactory) -> tuple[Organisation, list[int]]:
    async with transaction(factory) as session:
        region = await create_organisation(
            session,
            kind=OrganisationKind.region_academique,
            code="BENCH-RA",
            name="Région académique du banc d'essai",
        )
        academie = await create_organisation(
            session,
            kind=OrganisationKind.academie,
            code="BENCH-AC",
            name="Académie du banc",
            parent=region,
        )
        school_ids: list[int] = []
        for dep_code in ("67", "68"):
            departement = await create_organisation(
                session,
                kind=OrganisationKind.departement,
                code=f"BENCH-{dep_code}",
                name=f"Département {dep_code}",
                parent=academie,
            )
            for n in range(SCHOOLS // 2):
                school = await create_organisation(
                    session,
                    kind=OrganisationKind.etablissement,
                    code=make_uai(f"0{dep_code}9{n:03d}"),
                    name=f"Collège {dep_code}-{n}",
                    parent=departement,
                    school_type="college",
                )
                school_ids.append(school.id or 0)
    return academie, school_ids


def _guardians(school_ids: Sequence[int], start: int, stop: int) -> list[ContactIn]:
    """Guardians with one distinct email each; one in 25 reads English."""
    rows: list[ContactIn] = []
    for n in range(start, stop):
        level = LEVELS[n % len(LEVELS)]
        rows.append(
            ContactIn.model_construct(
                organisation_id=school_ids[n % len(school_ids)],
                first_name="Parent",
                last_name=f"N{n}",
                role=ContactRole.guardian,
                level=level,
                division=f"{level} {'ABC'[n % 3]}",
                locale="en" if n % 25 == 0 else "fr",
                email=f"parent{n}@familles.bench.invalid",
                mobile=None,
            )
        )
    return rows


async def _seed_contacts(factory: SessionFactory, school_ids: Sequence[int], total: int) -> None:
    for start in range(0, total, SEED_CHUNK):
        rows = _guardians(school_ids, start, min(start + SEED_CHUNK, total))
        async with transaction(factory) as session:
            await insert_contacts(session, rows)


async def _seed_operator_and_notice(factory: SessionFactory, academie: Organisation) -> Seeded:
    async with transaction(factory) as session:
        operator = await create_operator(
            session,
            email="officier@bench.invalid",
            display_name="Officier du banc",
            role=Role.academie_officer,
            organisation=academie,
        )
        principal = principal_for(operator, academie)
        notice = await create_notice(
            session,
            principal,
            NoticeIn(
                organisation_id=academie.id or 0,
                title="ENT indisponible",
                message="L'ENT est indisponible ce matin. Les cours ont lieu normalement.",
            ),
        )
    return Seeded(principal, academie.id or 0, notice.id or 0)


async def seed(database_url: str, recipients: int) -> Seeded:
    engine = create_engine(Settings(env="dev", database_url=database_url))
    try:
        factory = session_factory(engine)
        academie, school_ids = await _seed_organisations(factory)
        await _seed_contacts(factory, school_ids, recipients)
        seeded = await _seed_operator_and_notice(factory, academie)
        async with engine.connect() as connection:
            await connection.execute(text("ANALYZE"))
            await connection.commit()
        return seeded
    finally:
        await engine.dispose()


# -- processes -----------------------------------------------------------------------------


def _die_with_parent() -> None:
    """In the child, before exec: be sent SIGTERM if the benchmark itself dies (Linux)."""
    if sys.platform == "linux":
        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _spawn(
    argv: list[str],
    log: Path,
    env: Mapping[str, str] | None = None,
    stdout: int | IO[bytes] | None = None,
) -> subprocess.Popen[bytes]:
    with log.open("wb") as log_file:
        return subprocess.Popen(
            [sys.executable, *argv],
            cwd=ROOT,
            env=dict(env) if env is not None else None,
            stdout=stdout if stdout is not None else log_file,
            stderr=log_file,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )


def stop_processes(processes: Sequence[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every process, wait for them together, SIGKILL whatever is left."""
    running = [p for p in processes if p.poll() is None]
    for process in running:
        process.terminate()
    deadline = Deadline.after(STOP_GRACE_S)
    for process in running:
        try:
            process.wait(timeout=max(deadline.remaining(), 0.01))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for process in processes:
        if process.stdout is not None:
            process.stdout.close()


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass(slots=True)
class Sink:
    process: subprocess.Popen[bytes]
    port: int
    count_file: Path

    def received(self) -> int | None:
        try:
            return int(self.count_file.read_text())
        except (OSError, ValueError):
            return None


def _read_line(stream: IO[bytes], deadline: Deadline) -> bytes:
    readable, _, _ = wait_readable([stream], [], [], max(deadline.remaining(), 0))
    return stream.readline() if readable else b""


def start_sink(directory: Path, recording: bool) -> Sink:
    """The SMTP sink in its own process; its port from its ``listening on HOST:PORT`` line.

    By default the count-only responder (aiosmtpd's per-command parsing costs about 1 ms of CPU
    per message, which would measure the sink rather than the pipeline); ``recording`` runs the
    aiosmtpd sink of the tests instead."""
    count_file = directory / "smtp-count"
    mode = [] if recording else ["--counting"]
    process = _spawn(
        ["-m", "broadcast.sandbox.smtp", "--port", "0", "--count-file", str(count_file), *mode],
        directory / "smtp.log",
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    line = _read_line(process.stdout, Deadline.after(START_TIMEOUT_S)).decode().strip()
    if "listening on" not in line:
        stop_processes([process])
        raise BenchError(f"the SMTP sink did not start: {line!r} {_tail(directory / 'smtp.log')}")
    return Sink(process, int(line.rpartition(":")[2]), count_file)


def worker_environment(
    database_url: str,
    redis_url: str,
    sink_port: int,
    connections: int,
    extra: Mapping[str, str],
    sink_host: str = "127.0.0.1",
) -> dict[str, str]:
    """The environment of a deployed worker; no inherited BROADCAST_* setting leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BROADCAST_")}
    relay = {"host": sink_host, "port": sink_port, "connections": connections}
    env.update(
        BROADCAST_ENV="dev",
        BROADCAST_DATABASE_URL=database_url,
        BROADCAST_REDIS_URL=redis_url,
        BROADCAST_SMTP_RELAYS=json.dumps([relay]),
        BROADCAST_LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


def start_workers(
    count: int, env: Mapping[str, str], directory: Path
) -> list[subprocess.Popen[bytes]]:
    return [
        _spawn(["-m", "broadcast.cli", "worker"], directory / f"worker-{n}.log", env)
        for n in range(count)
    ]


def _ensure_alive(workers: Sequence[subprocess.Popen[bytes]], directory: Path) -> None:
    for n, worker in enumerate(workers):
        if worker.poll() is not None:
            log = _tail(directory / f"worker-{n}.log")
            raise BenchError(f"worker {n} exited with code {worker.returncode}:\n{log}")


def _sink_connections(pid: int, port: int) -> int:
    try:
        connections = psutil.Process(pid).net_connections(kind="tcp")
    except psutil.Error:
        return 0
    return sum(
        1
        for c in connections
        if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
    )


def _redis_clients(redis_url: str) -> int:
    client = redis.Redis.from_url(redis_url)
    try:
        info: dict[str, Any] = client.info("clients")  # type: ignore[assignment]
        return int(info["connected_clients"])
    finally:
        client.close()


def wait_until_ready(
    workers: Sequence[subprocess.Popen[bytes]],
    sink_port: int,
    connections: int,
    redis_url: str,
    directory: Path,
    deadline: Deadline,
) -> None:
    """Each worker has opened its SMTP pool and its three Redis pools (resources, two queues)."""
    while True:
        _ensure_alive(workers, directory)
        pools_open = all(_sink_connections(w.pid, sink_port) >= connections for w in workers)
        if pools_open and _redis_clients(redis_url) >= 3 * len(workers) + 1:
            time.sleep(0.5)  # from the pools being open to the first poll of the queues
            return
        deadline.check("waiting for the workers to start")
        time.sleep(0.1)


class RssSampler:
    """The RSS of each process, sampled on a daemon thread; keeps the peak of each."""

    def __init__(self, pids: Sequence[int], interval_s: float = RSS_SAMPLE_S) -> None:
        self._processes = {pid: psutil.Process(pid) for pid in pids}
        self.peaks: dict[int, int] = dict.fromkeys(pids, 0)
        self.latest: dict[int, int] = dict.fromkeys(pids, 0)
        self._interval_s = interval_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stopping.wait(self._interval_s):
                return

    def sample(self) -> None:
        for pid, process in self._processes.items():
            try:
                rss = int(process.memory_info().rss)
            except psutil.Error:
                continue
            self.latest[pid] = rss
            self.peaks[pid] = max(self.peaks[pid], rss)


# -- the measured part ---------------------------------------------------------------------


UNGOVERNED = Settings(
    env="dev", approval_above_school=False, approval_thresholds={}, volume_caps={}
)
"""The benchmark measures the pipeline: its académie-wide send needs no approval, has no cap."""


async def create_and_confirm(
    factory: SessionFactory, seeded: Seeded, channel: ChannelName = ChannelName.email
) -> Broadcast:
    """One broadcast on ``channel`` to every guardian of the académie, confirmed ungoverned."""
    data = BroadcastIn(
        notice_id=seeded.notice_id,
        audience=AudienceCriteria(
            organisation_ids=[seeded.academie_id], roles=[ContactRole.guardian]
        ),
        channels=[channel],
    )
    async with transaction(factory) as session:
        broadcast = await create_draft(session, seeded.principal, data)
        return await confirm(session, seeded.principal, broadcast, UNGOVERNED)


UNSENT = [status.value for status in DeliveryStatus if status != DeliveryStatus.sent]

# One round trip per poll, cheap at any N: the broadcast row; the number of deliveries, counted
# only once fan-out is done and until it reaches N; and whether any delivery is not yet 'sent',
# an EXISTS on the (broadcast, channel, status) index. Once N deliveries exist, "none is
# unsent" is "all N are sent". A full COUNT of sent rows every 0.25 s would cost the machine
# under test ~45 ms a poll at 100,000 deliveries (18% of a core), so it runs once, at the end.
_PROBE = text(
    "SELECT b.status, b.fanout_done,"
    " CASE WHEN b.fanout_done AND :count_planned"
    " THEN (SELECT count(*) FROM delivery d WHERE d.broadcast_id = b.id) END,"
    " EXISTS (SELECT 1 FROM delivery d WHERE d.broadcast_id = b.id AND d.status IN :unsent)"
    " FROM broadcast b WHERE b.id = :broadcast_id"
).bindparams(bindparam("unsent", expanding=True))
_TALLY = text(
    "SELECT count(*), count(*) FILTER (WHERE status = 'sent') FROM delivery"
    " WHERE broadcast_id = :broadcast_id"
)


@dataclass(frozen=True, slots=True)
class Probe:
    status: str
    fanout_done: bool
    planned: int | None
    any_unsent: bool


async def _probe(factory: SessionFactory, broadcast_id: int, count_planned: bool) -> Probe:
    params = {"broadcast_id": broadcast_id, "count_planned": count_planned, "unsent": UNSENT}
    async with factory() as session:
        status, fanout_done, planned, any_unsent = (await session.execute(_PROBE, params)).one()
    return Probe(str(status), bool(fanout_done), planned, bool(any_unsent))


async def _tally(factory: SessionFactory, broadcast_id: int, timings: Timings) -> None:
    async with factory() as session:
        planned, sent = (await session.execute(_TALLY, {"broadcast_id": broadcast_id})).one()
    timings.planned, timings.sent = int(planned), int(sent)


def _observe(timings: Timings, probe: Probe, elapsed: float, recipients: int) -> bool:
    """Record what ``probe`` shows at ``elapsed``; True once the broadcast stopped."""
    timings.status = probe.status
    if timings.planned_s is None and probe.planned is not None and probe.planned >= recipients:
        timings.planned_s = elapsed
    if timings.planned_s is not None and timings.sent_s is None and not probe.any_unsent:
        timings.sent_s = elapsed
    if probe.status == BroadcastStatus.completed:
        timings.completed_s = elapsed
    return probe.status in (BroadcastStatus.completed, BroadcastStatus.cancelled)


async def watch(
    factory: SessionFactory,
    broadcast_id: int,
    recipients: int,
    started: float,
    deadline: Deadline,
    check_alive: Callable[[], None],
) -> Timings:
    """Poll the ledger until the broadcast completes (or stops, or time runs out)."""
    timings = Timings()
    while True:
        asked = time.perf_counter()
        probe = await _probe(factory, broadcast_id, count_planned=timings.planned_s is None)
        if _observe(timings, probe, asked - started, recipients) or deadline.remaining() <= 0:
            break
        check_alive()
        await asyncio.sleep(max(POLL_S - (time.perf_counter() - asked), 0))
    await _tally(factory, broadcast_id, timings)
    return timings


async def send_and_watch(
    database_url: str,
    redis_url: str,
    seeded: Seeded,
    recipients: int,
    deadline: Deadline,
    check_alive: Callable[[], None],
) -> Timings:
    """Create and confirm the broadcast, enqueue its fan-out after commit, watch it through."""
    engine = create_engine(Settings(env="dev", database_url=database_url), pool_size=2)
    arq_pool = await connect_redis(redis_url)
    try:
        factory = session_factory(engine)
        broadcast = await create_and_confirm(factory, seeded)
        assert broadcast.id is not None
        started = time.perf_counter()
        async with transaction(factory, arq_pool) as session:
            enqueue_after_commit(session, fanout_job(broadcast.id, broadcast.priority))
        return await watch(factory, broadcast.id, recipients, started, deadline, check_alive)
    finally:
        await arq_pool.aclose()
        await engine.dispose()


def _run_pipeline(
    options: Options,
    database_url: str,
    seeded: Seeded,
    directory: Path,
    result: Result,
    deadline: Deadline,
    stack: contextlib.ExitStack,
) -> Sink | None:
    redis_server = EmbeddedRedis(directory / "redis")
    redis_url = redis_server.start()
    stack.callback(redis_server.stop)
    sink = None
    if options.smtp is None:
        sink = start_sink(directory, options.recording_sink)
        stack.callback(stop_processes, [sink.process])
    host, port = options.smtp or ("127.0.0.1", sink.port if sink else 0)
    env = worker_environment(
        database_url, redis_url, port, options.smtp_connections, options.worker_env, host
    )
    workers = start_workers(options.workers, env, directory)
    stack.callback(stop_processes, workers)
    sampler = RssSampler([w.pid for w in workers])
    sampler.start()
    stack.callback(_keep_peaks, sampler, result)
    wait_until_ready(workers, port, options.smtp_connections, redis_url, directory, deadline)
    sampler.sample()
    result.worker_idle_rss = dict(sampler.latest)
    result.timings = asyncio.run(
        send_and_watch(
            database_url,
            redis_url,
            seeded,
            options.recipients,
            deadline,
            lambda: _ensure_alive(workers, directory),
        )
    )
    return sink


def _keep_peaks(sampler: RssSampler, result: Result) -> None:
    sampler.stop()
    result.worker_peak_rss = dict(sampler.peaks)


def run(options: Options) -> Result:
    """Everything, from a fresh database to the stopped processes; raises BenchError."""
    deadline = Deadline.after(options.timeout_s)
    server = server_url()
    result = Result(options.recipients, options.workers, server.get_backend_name())
    result.external_sink = options.smtp is not None
    with (
        tempfile.TemporaryDirectory(prefix="bench-fanout-") as tmp,
        fresh_database(server) as database_url,
    ):
        directory = Path(tmp)
        seeding = time.perf_counter()
        seeded = asyncio.run(
            asyncio.wait_for(seed(database_url, options.recipients), max(deadline.remaining(), 1))
        )
        result.seed_s = time.perf_counter() - seeding
        with contextlib.ExitStack() as stack:
            sink = _run_pipeline(options, database_url, seeded, directory, result, deadline, stack)
        if sink is not None:
            result.sink_received = sink.received()  # written once more by the sink on exit
    _check(result, deadline)
    return result


def _check(result: Result, deadline: Deadline) -> None:
    timings = result.timings
    if timings.completed_s is None:
        where = "timed out" if deadline.remaining() <= 0 else f"stopped as {timings.status!r}"
        result.error = (
            f"broadcast {where}: {timings.planned} planned, {timings.sent} sent "
            f"of {result.recipients}"
        )
    elif timings.sent != result.recipients or (
        not result.external_sink and result.sink_received != result.recipients
    ):
        result.error = (
            f"{timings.sent} deliveries sent and {result.sink_received} messages "
            f"received, for {result.recipients} recipients"
        )


# -- command line --------------------------------------------------------------------------


def key_value(raw: str) -> tuple[str, str]:
    key, sep, value = raw.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, not {raw!r}")
    return key, value


def host_port(raw: str) -> tuple[str, int]:
    host, sep, port = raw.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, not {raw!r}")
    return host, int(port)


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.fanout",
        description="Fan-out benchmark: one email broadcast to N recipients through real workers.",
    )
    parser.add_argument("--recipients", type=int, default=100_000, help="default 100000")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds, for everything")
    parser.add_argument(
        "--smtp-connections",
        type=int,
        default=8,
        help="connections of each worker to the SMTP sink (default 8)",
    )
    parser.add_argument(
        "--worker-env",
        type=key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the workers (repeatable)",
    )
    parser.add_argument(
        "--recording-sink",
        action="store_true",
        help="use the aiosmtpd sink of the tests instead of the count-only responder",
    )
    parser.add_argument(
        "--smtp",
        type=host_port,
        metavar="HOST:PORT",
        help="send to this SMTP server, already running, instead of the benchmark's own sink",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args(argv)
    if args.recipients < 1 or args.workers < 1:
        parser.error("--recipients and --workers must be at least 1")
    return Options(
        args.recipients,
        args.workers,
        args.timeout,
        args.smtp_connections,
        dict(args.worker_env),
        args.json,
        args.recording_sink,
        args.smtp,
    )


def _mb(value: int) -> str:
    return f"{value / MB:.0f} MB"


def verdict(name: str, value: float | None, targets: dict[str, float] = TARGETS) -> str:
    """``ok`` or ``MISSED`` against ``targets[name]`` (at most for ``_mb`` sizes)."""
    target = targets[name]
    if value is None:
        return "n/a"
    at_most = name.endswith("_mb")
    met = value <= target if at_most else value >= target
    return f"{'ok' if met else 'MISSED'} (target {'<' if at_most else '>='} {target:,.0f})"


def readable(result: Result) -> str:
    summary = result.summary()
    lines = [
        f"fan-out of one email broadcast to {result.recipients:,} recipients, "
        f"{result.workers} worker process(es), {result.database}",
        f"  seeding (not measured)  {result.seed_s:.1f} s",
        f"  planned                 {summary['planned_per_s'] or 0:,.0f} deliveries/s   "
        + verdict("planned_per_s", summary["planned_per_s"]),
        f"  sent (status written)   {summary['sent_per_s'] or 0:,.0f} emails/s       "
        + verdict("sent_per_s", summary["sent_per_s"]),
        f"  end to end              {summary['end_to_end_s'] or 0:.2f} s",
        f"  worker peak RSS         {summary['worker_peak_rss_mb'] or 0:.0f} MB   "
        + verdict("worker_peak_rss_mb", summary["worker_peak_rss_mb"]),
        "  per worker (idle -> peak) "
        + ", ".join(
            f"{_mb(result.worker_idle_rss.get(pid, 0))} -> {_mb(peak)}"
            for pid, peak in result.worker_peak_rss.items()
        ),
        "  sink received           "
        + ("(an outside SMTP server)" if result.external_sink else f"{result.sink_received}"),
    ]
    if result.error:
        lines.append(f"  ERROR: {result.error}")
    return "\n".join(lines)


def exit_on_sigterm(signum: int, _frame: object) -> NoReturn:
    raise SystemExit(128 + signum)  # unwinds through every finally: processes stop, db dropped


class Summarised(Protocol):
    def summary(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=Summarised)


def run_and_print(
    prog: str,
    run_bench: Callable[[], R],
    readable_of: Callable[[R], str],
    *,
    as_json: bool,
    errors: tuple[type[Exception], ...] = (BenchError,),
) -> R | None:
    """Run a bench, stopping cleanly on SIGTERM, and print its result (one JSON line with
    ``as_json``); None, said on stderr, when it failed with one of ``errors``."""
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    try:
        result = run_bench()
    except errors as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return None
    print(json.dumps(result.summary()) if as_json else readable_of(result), flush=True)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    try:
        result = run(options)
    except BenchError as exc:
        print(f"bench.fanout: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result.summary()) if options.as_json else readable(result), flush=True)
    if result.error and options.as_json:
        print(f"bench.fanout: {result.error}", file=sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())

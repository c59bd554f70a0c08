"""The status pages under a surge: wrk against the public pages, alone and during a big send.

    python -m bench.status [--recipients 100000] [--workers 2] [--duration 10] [--json]

What runs, as a deployment would run it (the pieces of :mod:`bench.fanout`):

- a fresh PostgreSQL database, migrated, seeded with one académie, ten schools and
  ``--recipients`` guardians, a public académie incident and a public school incident;
- a private Redis, one API process (``broadcast serve``) on a loopback port;
- ``wrk`` (Debian's package, ``/usr/bin/wrk``), 64 connections, two threads, with
  ``Accept-Encoding: gzip, br`` as browsers send it, against the académie page, a school page,
  the académie's JSON and its Atom feed: requests per second, p50 and p99 latency;
- publication latency: an update posted to the API (its 201 is "confirmed") until a GET of
  the school page shows it, polled every 5 ms, over ``--publications`` updates;
- then the same wrk runs while a ``--recipients`` email send runs through ``--workers`` worker
  processes to the count-only SMTP sink, after a send alone for its solo rate.

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
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.fanout import (
    UNGOVERNED,
    BenchError,
    Deadline,
    Seeded,
    Sink,
    _spawn,
    fresh_database,
    run_and_print,
    seed,
    send_and_watch,
    server_url,
    start_sink,
    start_workers,
    stop_processes,
    wait_until_ready,
    worker_environment,
)
from broadcast.accounts.models import Operator
from broadcast.accounts.service import create_api_key
from broadcast.core.db import create_engine, session_factory, transaction
from broadcast.core.embedded_redis import EmbeddedRedis
from broadcast.directory.uai import make_uai
from broadcast.notices.schemas import NoticeIn
from broadcast.notices.service import create_notice
from broadcast.sandbox.devservices import free_port
from broadcast.settings import Settings

WRK = "/usr/bin/wrk"
CONNECTIONS = 64
SCHOOL = make_uai("0679000")
"""The first school :func:`bench.fanout.seed` creates."""
TARGETS = {"alone_rps": 5_000.0, "alone_p99_ms": 50.0, "during_rps": 2_000.0}
_LATENCY = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_ERRORS = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_REQUESTS = re.compile(r"^\s+(\d+) requests in ", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class WrkResult:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int

    @classmethod
    def read(cls, name: str, out: str) -> WrkResult:
        """What wrk's ``--latency`` output says."""
        latencies = {p: _ms(v, u) for p, v, u in _LATENCY.findall(out)}
        rps = _RPS.search(out)
        errors = _ERRORS.search(out)
        if rps is None or "50" not in latencies or "99" not in latencies:
            raise BenchError(f"could not read wrk's output:\n{out}")
        return cls(
            name,
            round(float(rps.group(1))),
            round(latencies["50"], 2),
            round(latencies["99"], 2),
            int(errors.group(1)) if errors else 0,
        )

    @staticmethod
    def requests_in(out: str) -> int:
        """How many answers wrk counted."""
        found = _REQUESTS.search(out)
        return int(found.group(1)) if found else 0


@dataclass(slots=True)
class Result:
    recipients: int
    workers: int
    alone: list[WrkResult] = field(default_factory=list)
    during: list[WrkResult] = field(default_factory=list)
    publication_ms: list[float] = field(default_factory=list)
    send_solo_per_s: float | None = None
    send_during_per_s: float | None = None
    cpus: int = field(default_factory=lambda: os.cpu_count() or 0)
    load_before: float = 0.0

    def summary(self) -> dict[str, Any]:
        publication = sorted(self.publication_ms)
        return {
            "alone": [asdict(r) for r in self.alone],
            "during_send": [asdict(r) for r in self.during],
            "publication_ms_median": publication[len(publication) // 2] if publication else None,
            "publication_ms_max": publication[-1] if publication else None,
            "send_solo_per_s": self.send_solo_per_s,
            "send_during_per_s": self.send_during_per_s,
            "send_kept": (
                round(self.send_during_per_s / self.send_solo_per_s, 2)
                if self.send_solo_per_s and self.send_during_per_s
                else None
            ),
            "recipients": self.recipients,
            "workers": self.workers,
            "cpus": self.cpus,
            "load_average_before": self.load_before,
        }


# -- seeding -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Site:
    seeded: Seeded
    api_key: str
    academie_notice_id: int


async def seed_site(database_url: str, recipients: int) -> Site:
    """The fan-out's seeding, plus two public incidents and an API key for the officer."""
    seeded = await seed(database_url, recipients)
    engine = create_engine(Settings(env="dev", database_url=database_url))
    try:
        async with transaction(session_factory(engine)) as session:
            academie = await create_notice(
                session,
                seeded.principal,
                NoticeIn(
                    organisation_id=seeded.academie_id,
                    title="ENT indisponible dans l'académie",
                    message="L'accès à l'ENT est temporairement restreint. Les cours ont lieu.",
                    public=True,
                    services=["ent", "messagerie"],
                ),
            )
            operator = await session.get(Operator, seeded.principal.operator_id)
            assert operator is not None
            _, key = await create_api_key(session, operator, "bench")
        return Site(seeded, key, academie.id or 0)
    finally:
        await engine.dispose()


# -- the API process and wrk ---------------------------------------------------------------


def start_api(
    env: dict[str, str], directory: Path, workers: int = 1
) -> tuple[subprocess.Popen[bytes], str]:
    """``broadcast serve`` on a free port, with ``workers`` uvicorn processes; once healthy."""
    port = free_port()
    api_env = {**env, "BROADCAST_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
    argv = ["-m", "broadcast.cli", "serve", "--port", str(port), "--workers", str(workers)]
    process = _spawn(argv, directory / "api.log", api_env)
    base = f"http://127.0.0.1:{port}"
    deadline = Deadline.after(60)
    while True:
        if process.poll() is not None:
            raise BenchError(f"the API exited: {(directory / 'api.log').read_text()[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        deadline.check("waiting for the API")
        time.sleep(0.1)


def urls(base: str) -> dict[str, str]:
    return {
        "académie page": f"{base}/status/BENCH-AC/",
        "school page": f"{base}/status/{SCHOOL}/",
        "JSON": f"{base}/status/BENCH-AC/status.json",
        "Atom": f"{base}/status/BENCH-AC/feed.atom",
    }


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk_output(
    url: str, seconds: float, connections: int = CONNECTIONS, extra: Sequence[str] = ()
) -> str:
    """wrk's report of ``seconds`` of requests to ``url``, two threads, with latencies."""
    argv = [
        WRK,
        "-t2",
        f"-c{connections}",
        f"-d{max(int(seconds), 1)}s",
        "--latency",
        *extra,
        url,
    ]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def run_wrk(name: str, url: str, seconds: float, headers: Sequence[str] = ()) -> WrkResult:
    """wrk against ``url``; ``headers`` (``"Name: value"``) beside the browser's encodings."""
    extra = ["-H", "Accept-Encoding: gzip, br", *(p for h in headers for p in ("-H", h))]
    out = wrk_output(url, seconds, extra=extra)
    return WrkResult.read(name, out)


def wrk_all(base: str, seconds: float) -> list[WrkResult]:
    return [run_wrk(name, url, seconds) for name, url in urls(base).items()]


def publication_latency(base: str, site: Site, count: int) -> list[float]:
    """ms from the 201 of an update to the school page showing it (the académie's incident is
    inherited by the school page, which is purged and rendered again on its first request)."""
    found: list[float] = []
    headers = {"Authorization": f"Bearer {site.api_key}"}
    with httpx.Client(base_url=base, timeout=10) as client:
        client.get(f"/status/{SCHOOL}/")
        for n in range(count):
            marker = f"Point de situation n° {n} ({time.time_ns()})"
            posted = client.post(
                f"/api/v1/notices/{site.academie_notice_id}/updates",
                headers=headers,
                json={"status": "identified", "message": marker},
            )
            if posted.status_code != 201:
                raise BenchError(f"update refused: {posted.status_code} {posted.text}")
            confirmed = time.perf_counter()
            while marker not in client.get(f"/status/{SCHOOL}/").text:
                if time.perf_counter() - confirmed > 5:
                    raise BenchError("the page did not change within 5 s")
                time.sleep(0.005)
            found.append(round((time.perf_counter() - confirmed) * 1000, 1))
    return found


# -- the send ------------------------------------------------------------------------------


def timed_send(
    database_url: str, redis_url: str, site: Site, recipients: int, deadline: Deadline
) -> float | None:
    timings = asyncio.run(
        send_and_watch(database_url, redis_url, site.seeded, recipients, deadline, lambda: None)
    )
    if timings.sent_s is None or timings.sent != recipients:
        raise BenchError(f"the send did not finish: {timings.sent} of {recipients} sent")
    return round(recipients / timings.sent_s, 1)


def run(options: argparse.Namespace) -> Result:
    if shutil.which(WRK) is None:
        raise BenchError("wrk is not installed (apt-get install wrk)")
    deadline = Deadline.after(options.timeout)
    result = Result(options.recipients, options.workers, load_before=os.getloadavg()[0])
    assert UNGOVERNED.approval_above_school is False  # the send needs no second operator
    with (
        tempfile.TemporaryDirectory(prefix="bench-status-") as tmp,
        fresh_database(server_url()) as database_url,
        contextlib.ExitStack() as stack,
    ):
        directory = Path(tmp)
        site = asyncio.run(seed_site(database_url, options.recipients))
        redis_server = EmbeddedRedis(directory / "redis")
        redis_url = redis_server.start()
        stack.callback(redis_server.stop)
        sink: Sink = start_sink(directory, recording=False)
        stack.callback(stop_processes, [sink.process])
        env = worker_environment(database_url, redis_url, sink.port, 8, {})
        api, base = start_api(env, directory)
        stack.callback(stop_processes, [api])
        for url in urls(base).values():
            httpx.get(url).raise_for_status()
        result.alone = wrk_all(base, options.duration)
        result.publication_ms = publication_latency(base, site, options.publications)
        workers = start_workers(options.workers, env, directory)
        stack.callback(stop_processes, workers)
        wait_until_ready(workers, sink.port, 8, redis_url, directory, deadline)
        result.send_solo_per_s = timed_send(
            database_url, redis_url, site, options.recipients, deadline
        )
        during: dict[str, float | None] = {}
        sender = threading.Thread(
            target=lambda: during.update(
                rate=timed_send(database_url, redis_url, site, options.recipients, deadline)
            )
        )
        sender.start()
        time.sleep(2)  # past the fan-out's start: the dispatch is under way
        result.during = wrk_all(base, options.during_duration)
        sender.join()
        result.send_during_per_s = during.get("rate")
    return result


def verdict(value: float, target: float, at_most: bool = False) -> str:
    met = value <= target if at_most else value >= target
    return f"{'ok' if met else 'MISSED'} (target {'<' if at_most else '>='} {target:,.0f})"


def _line(r: WrkResult) -> str:
    return f"{r.name:14} {r.rps:>8,.0f} req/s  p50 {r.p50_ms:6.2f} ms  p99 {r.p99_ms:6.2f} ms"


def readable(result: Result) -> str:
    s = result.summary()
    lines = [
        f"status pages, wrk {CONNECTIONS} connections on loopback, one API process, "
        f"{result.cpus} CPUs shared (load average before: {result.load_before:.1f})",
        "  alone:",
    ]
    for r in result.alone:
        lines.append(
            f"    {_line(r)}  {verdict(r.rps, TARGETS['alone_rps'])}, p99 "
            f"{verdict(r.p99_ms, TARGETS['alone_p99_ms'], at_most=True)}"
        )
    lines.append(
        f"  during a {result.recipients:,}-recipient email send ({result.workers} workers):"
    )
    for r in result.during:
        lines.append(f"    {_line(r)}  {verdict(r.rps, TARGETS['during_rps'])}")
    lines += [
        f"  send alone {s['send_solo_per_s']} emails/s, during wrk {s['send_during_per_s']} "
        f"emails/s (kept {s['send_kept']}, target >= 0.7)",
        f"  publication latency median {s['publication_ms_median']} ms, "
        f"worst {s['publication_ms_max']} ms (target < 1000)",
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.status", description=__doc__)
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run alone")
    parser.add_argument(
        "--during-duration", type=float, default=5.0, help="seconds per wrk run during the send"
    )
    parser.add_argument("--publications", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=1200.0)
    parser.add_argument("--json", action="store_true")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    result = run_and_print(
        "bench.status",
        lambda: run(options),
        readable,
        as_json=options.json,
        errors=(BenchError, subprocess.CalledProcessError),
    )
    return 0 if result is not None else 1


if __name__ == "__main__":
    sys.exit(main())

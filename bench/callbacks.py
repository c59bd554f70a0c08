"""Twilio status callbacks against one API process: wrk posting validly signed callbacks.

    python -m bench.callbacks [--duration 10] [--connections 64] [--messages 10000] [--json]

What runs, as a deployment would run it:

- a private Redis and one API process (``broadcast serve``, one uvicorn process) whose database
  URL names a port nobody listens on: a callback that touched the database would fail, so every
  204 proves the path has none;
- ``wrk`` (Debian's package), two threads, ``--connections`` connections, cycling through
  ``2 × --messages`` precomputed callbacks ("sent" then "delivered" for each of ``--messages``
  SIDs), form-encoded and signed with ``X-Twilio-Signature`` as Twilio signs them
  (:class:`twilio.request_validator.RequestValidator`), held in a generated Lua script;
- afterwards: the callback stream must hold at least one entry per 204 wrk counted; the API's
  CPU time per callback (user + system, from /proc) is the figure least moved by other work on
  the machine; a few clients that hang up in the middle of their body must leave no traceback
  in the API's log.

Prints requests/s, p50 and p99 latency, non-2xx answers, stream entries and CPU per callback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psutil
import redis
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from bench.fanout import BenchError, run_and_print, stop_processes, worker_environment
from bench.sms import ACCOUNT_SID, AUTH_TOKEN, twilio_environment
from bench.status import WRK, WrkResult, start_api, wrk_output
from broadcast.channels.sms.callbacks import STATUS_CALLBACK_PATH
from broadcast.core.embedded_redis import EmbeddedRedis
from broadcast.deliveries.callback_stream import STREAM

NO_DATABASE = "postgresql+asyncpg://nobody@127.0.0.1:9/absent"
"""Nothing listens on port 9 (discard): a callback that opened a connection would fail."""
TARGETS = {"rps": 3_000.0}
HANG_UPS = 5


@dataclass(slots=True)
class Result:
    wrk: WrkResult | None = None
    requests: int = 0
    stream_entries: int = 0
    api_cpu_ms_per_callback: float | None = None
    hang_up_tracebacks: int = 0
    connections: int = 0
    cpus: int = os.cpu_count() or 0
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def ok(self) -> bool:
        return (
            self.wrk is not None
            and self.wrk.non_2xx == 0
            and self.stream_entries >= self.requests
            and self.hang_up_tracebacks == 0
        )

    def summary(self) -> dict[str, Any]:
        return {
            **(asdict(self.wrk) if self.wrk else {}),
            "requests": self.requests,
            "stream_entries": self.stream_entries,
            "api_cpu_ms_per_callback": self.api_cpu_ms_per_callback,
            "hang_up_tracebacks": self.hang_up_tracebacks,
            "connections": self.connections,
            "cpus": self.cpus,
            "load_average_before": self.load_before,
        }


# -- the callbacks, signed in advance ------------------------------------------------------


def callbacks(url: str, messages: int) -> Iterator[tuple[str, str]]:
    """(form body, signature) of a "sent" then a "delivered" callback for each SID."""
    validator = RequestValidator(AUTH_TOKEN)
    for status in ("sent", "delivered"):
        for n in range(messages):
            sid = f"SM{n:032x}"
            params = {
                "MessageSid": sid,
                "SmsSid": sid,
                "AccountSid": ACCOUNT_SID,
                "MessageStatus": status,
                "SmsStatus": status,
                "To": f"+336{n % 100_000_000:08d}",
                "From": "RECTORAT",
                "ApiVersion": "2010-04-01",
            }
            yield urlencode(params), str(validator.compute_signature(url, params))


def _lua_string(value: str) -> str:
    return json.dumps(value)  # the bodies are URL-encoded ASCII: JSON quoting is Lua quoting


def write_script(path: Path, url: str, messages: int) -> None:
    """A wrk script that formats every request once, then cycles through them; each thread
    starts at its own offset."""
    entries = ",\n".join(
        f"{{{_lua_string(body)}, {_lua_string(signature)}}}"
        for body, signature in callbacks(url, messages)
    )
    path.write_text(
        f"""
local callbacks = {{
{entries}
}}
local requests = {{}}
local next_one = 1
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("offset", threads * 7919)
end

function init(args)
  for i, c in ipairs(callbacks) do
    requests[i] = wrk.format("POST", "{STATUS_CALLBACK_PATH}", {{
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["X-Twilio-Signature"] = c[2],
    }}, c[1])
  end
  next_one = (offset or 0) % #requests + 1
end

function request()
  local r = requests[next_one]
  next_one = next_one % #requests + 1
  return r
end
"""
    )


# -- measuring -----------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User and system time of the API process and its children (uvicorn's own, if any)."""
    process = psutil.Process(pid)
    total = sum(process.cpu_times()[:2])
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += sum(child.cpu_times()[:2])
    return float(total)


def hang_up(base: str, count: int) -> None:
    """Clients that announce a body and close the connection half-way through it."""
    host, _, port = base.removeprefix("http://").partition(":")
    for _ in range(count):
        with socket.create_connection((host, int(port)), timeout=5) as client:
            client.sendall(
                f"POST {STATUS_CALLBACK_PATH} HTTP/1.1\r\nHost: {host}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                "X-Twilio-Signature: x\r\nContent-Length: 400\r\n\r\nMessageSid=SM".encode()
            )
    time.sleep(0.5)


def run(options: argparse.Namespace) -> Result:
    if shutil.which(WRK) is None:
        raise BenchError("wrk is not installed (apt-get install wrk)")
    result = Result(connections=options.connections, load_before=os.getloadavg())
    with (
        tempfile.TemporaryDirectory(prefix="bench-callbacks-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        directory = Path(tmp)
        redis_server = EmbeddedRedis(directory / "redis")
        redis_url = redis_server.start()
        stack.callback(redis_server.stop)
        extra = {**twilio_environment(9), "BROADCAST_LOG_LEVEL": "INFO"}
        env = worker_environment(NO_DATABASE, redis_url, 9, 1, extra)
        api, base = start_api(env, directory)
        stack.callback(stop_processes, [api])
        script = directory / "callbacks.lua"
        write_script(script, base + STATUS_CALLBACK_PATH, options.messages)
        store = redis.Redis.from_url(redis_url)
        stack.callback(store.close)
        cpu_before = cpu_seconds(api.pid)
        output = wrk_output(
            base + STATUS_CALLBACK_PATH,
            options.duration,
            options.connections,
            ["-s", str(script)],
        )
        cpu = cpu_seconds(api.pid) - cpu_before
        result.wrk = WrkResult.read("twilio status callbacks", output)
        result.requests = WrkResult.requests_in(output)
        result.stream_entries = int(store.xlen(STREAM))  # type: ignore[arg-type]
        if result.requests:
            result.api_cpu_ms_per_callback = round(cpu * 1000 / result.requests, 3)
        hang_up(base, HANG_UPS)
        result.hang_up_tracebacks = (directory / "api.log").read_text().count("Traceback")
    return result


def readable(result: Result) -> str:
    s = result.summary()
    one, five, fifteen = result.load_before
    lines = [
        f"Twilio status callbacks, wrk {result.connections} connections on loopback, one API "
        f"process, {result.cpus} CPUs shared (load average before: {one:.2f} {five:.2f} "
        f"{fifteen:.2f})",
    ]
    if result.wrk is not None:
        met = "ok" if result.wrk.rps >= TARGETS["rps"] else "MISSED"
        lines += [
            f"  {result.wrk.rps:,.0f} callbacks/s   {met} (target >= {TARGETS['rps']:,.0f})",
            f"  latency p50 {result.wrk.p50_ms:.2f} ms, p99 {result.wrk.p99_ms:.2f} ms",
            f"  answered {result.requests:,}, non-2xx {result.wrk.non_2xx}, "
            f"stream entries {result.stream_entries:,}",
            f"  API CPU per callback {s['api_cpu_ms_per_callback']} ms",
        ]
    lines.append(f"  tracebacks after {HANG_UPS} clients hung up: {result.hang_up_tracebacks}")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.callbacks", description=__doc__)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of wrk")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--messages", type=int, default=10_000, help="distinct SIDs")
    parser.add_argument("--json", action="store_true")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    result = run_and_print(
        "bench.callbacks",
        lambda: run(options),
        readable,
        as_json=options.json,
        errors=(BenchError, subprocess.CalledProcessError),
    )
    return 0 if result is not None and result.ok else 1


if __name__ == "__main__":
    sys.exit(main())

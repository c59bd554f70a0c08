"""A count-only push service for benchmarks, where the decrypting sandbox would be the bottleneck.

:class:`broadcast.sandbox.push.PushSandbox` verifies each VAPID signature and decrypts each
body (about 0.5 ms of CPU a message), which on a 2-core benchmark would measure the sandbox. This
one checks only that the request looks like a web push (``TTL``, ``Content-Encoding: aes128gcm``,
a ``vapid`` Authorization, a body under 4096 bytes), answers 201 with a ``Location``, keeps
nothing and counts. Tests use the recording sandbox; only benchmarks use this::

    python -m broadcast.sandbox.push_counter --port 0 --count-file var/push-count

prints ``push sink listening on HOST:PORT``, then rewrites ``--count-file`` with the number of
messages accepted every 0.2 s and once more on exit (SIGTERM or SIGINT).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import signal
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

MAX_BODY_BYTES = 4096
COUNT_EVERY_S = 0.2


class PushCounter:
    def __init__(self) -> None:
        self.received = 0
        self.refused = 0
        self._ids = itertools.count(1)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not _looks_like_web_push(request, body):
            self.refused += 1
            return web.Response(status=400)
        self.received += 1
        location = f"/message/{next(self._ids)}"
        return web.Response(status=201, headers={"Location": location})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/push/{token}", self.handle)
        return app


def _looks_like_web_push(request: web.Request, body: bytes) -> bool:
    headers = request.headers
    return (
        headers.get("TTL", "").isdigit()
        and headers.get("Content-Encoding") == "aes128gcm"
        and headers.get("Authorization", "").lower().startswith("vapid ")
        and 0 < len(body) <= MAX_BODY_BYTES
    )


async def serve(host: str, port: int, count_file: Path | None) -> None:
    counter = PushCounter()
    runner = web.AppRunner(counter.app(), handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    bound = runner.addresses[0]
    print(f"push sink listening on {bound[0]}:{bound[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        while not stop.is_set():
            _write_count(count_file, counter.received)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), COUNT_EVERY_S)
    finally:
        _write_count(count_file, counter.received)
        await runner.cleanup()


def _write_count(count_file: Path | None, received: int) -> None:
    if count_file is not None:
        temporary = count_file.with_suffix(".tmp")
        temporary.write_text(str(received))
        temporary.replace(count_file)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m broadcast.sandbox.push_counter",
        description="Count-only push service for benchmarks.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--count-file", type=Path)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.host, args.port, args.count_file))


if __name__ == "__main__":
    main()

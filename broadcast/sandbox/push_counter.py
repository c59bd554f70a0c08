"""A count-only push service for benchmarks, where the decrypting sandbox would be the bottleneck.

:class:`broadcast.sandbox.push.PushSandbox` verifies each VAPID signature and decrypts each
body (about 0.5 ms of CPU a message), and even a bare aiohttp server spends about 0.3 ms a
request: on a 2-core benchmark either would measure itself. This responder speaks just enough
HTTP/1.1 for a client that sends well-formed requests with a ``Content-Length`` over keep-alive
connections: it checks that each ``POST /push/...`` looks like a web push (``TTL``,
``Content-Encoding: aes128gcm``, a ``vapid`` Authorization, a body of 1 to 4096 bytes), answers
201 with a ``Location`` (400 otherwise), keeps nothing and counts. Tests use the recording
sandbox; only benchmarks use this::

    python -m broadcast.sandbox.push_counter --port 0 --count-file var/push-count

prints ``push sink listening on HOST:PORT``, then rewrites ``--count-file`` with the number of
messages accepted every 0.2 s and once more on exit (SIGTERM or SIGINT).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from pathlib import Path

from broadcast.sandbox.counting import report_count_until_stopped

MAX_BODY_BYTES = 4096
_END_OF_HEADERS = b"\r\n\r\n"
_CREATED = b"HTTP/1.1 201 Created\r\nLocation: /message/%d\r\nContent-Length: 0\r\n\r\n"
_BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"


class PushCounter:
    def __init__(self) -> None:
        self.received = 0
        self.refused = 0


class CountingPushProtocol(asyncio.Protocol):
    """One client connection: requests one after the other, each answered as soon as read."""

    def __init__(self, counter: PushCounter) -> None:
        self._counter = counter
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        replies = []
        while (reply := self._next_reply()) is not None:
            replies.append(reply)
        if self._transport is not None and replies:
            self._transport.write(b"".join(replies))

    def _next_reply(self) -> bytes | None:
        end = self._buffer.find(_END_OF_HEADERS)
        if end < 0:
            return None
        head = self._buffer[:end].decode("latin-1")
        headers = _headers(head)
        length = int(headers.get("content-length", "0") or 0)
        request_end = end + len(_END_OF_HEADERS) + length
        if len(self._buffer) < request_end:
            return None
        self._buffer = self._buffer[request_end:]
        if not (head.startswith("POST /push/") and _looks_like_web_push(headers, length)):
            self._counter.refused += 1
            return _BAD_REQUEST
        self._counter.received += 1
        return _CREATED % self._counter.received


def _headers(head: str) -> dict[str, str]:
    fields = {}
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return fields


def _looks_like_web_push(headers: dict[str, str], length: int) -> bool:
    return (
        headers.get("ttl", "").isdigit()
        and headers.get("content-encoding") == "aes128gcm"
        and headers.get("authorization", "").lower().startswith("vapid ")
        and 0 < length <= MAX_BODY_BYTES
    )


async def start_counting_server(host: str, port: int, counter: PushCounter) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: CountingPushProtocol(counter), host, port, backlog=1024)


async def serve(host: str, port: int, count_file: Path | None) -> None:
    counter = PushCounter()
    server = await start_counting_server(host, port, counter)
    bound = server.sockets[0].getsockname()
    print(f"push sink listening on {bound[0]}:{bound[1]}", flush=True)
    try:
        await report_count_until_stopped(count_file, lambda: counter.received)
    finally:
        server.close()


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

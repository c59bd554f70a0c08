"""A count-only SMTP responder for benchmarks, where the aiosmtpd sink would be the bottleneck.

aiosmtpd parses every command and address (about 1 ms of CPU per message here, which caps a
2-core benchmark near 600 messages per second). This responder speaks just enough SMTP for a
client that sends well-formed mail (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), answers
250 to the rest, parses nothing, keeps nothing, and counts the messages accepted (about 0.25 ms).
Tests use the recording :class:`broadcast.sandbox.smtp.SmtpSink`; only benchmarks use this.
"""

from __future__ import annotations

import asyncio

_END_OF_DATA = b"\r\n.\r\n"
_EHLO_REPLY = b"250-broadcast-counter\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"


class MessageCounter:
    def __init__(self) -> None:
        self.received = 0


class CountingSmtpProtocol(asyncio.Protocol):
    def __init__(self, counter: MessageCounter) -> None:
        self._counter = counter
        self._buffer = b""
        self._in_data = False
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        transport.write(b"220 broadcast-counter ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        replies: list[bytes] = []
        closing = False
        while not closing:
            reply = self._next_reply()
            if reply is None:
                break
            replies.append(reply)
            closing = reply.startswith(b"221")
        if self._transport is not None and replies:
            self._transport.write(b"".join(replies))
            if closing:
                self._transport.close()

    def _next_reply(self) -> bytes | None:
        if self._in_data:
            end = self._buffer.find(_END_OF_DATA)
            if end < 0:
                return None
            self._buffer = self._buffer[end + len(_END_OF_DATA) :]
            self._in_data = False
            self._counter.received += 1
            return b"250 2.0.0 OK\r\n"
        line_end = self._buffer.find(b"\r\n")
        if line_end < 0:
            return None
        verb = self._buffer[:4].upper()
        self._buffer = self._buffer[line_end + 2 :]
        return self._reply_to(verb)

    def _reply_to(self, verb: bytes) -> bytes:
        if verb in (b"EHLO", b"HELO"):
            return _EHLO_REPLY
        if verb == b"DATA":
            self._in_data = True
            return b"354 End data with <CR><LF>.<CR><LF>\r\n"
        if verb == b"QUIT":
            return b"221 Bye\r\n"
        return b"250 OK\r\n"


async def start_counting_server(host: str, port: int, counter: MessageCounter) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: CountingSmtpProtocol(counter), host, port)

"""A local SMTP server that records what it receives: the email provider of the tests and the demo.

In the test's own event loop::

    sink = SmtpSink()                  # 127.0.0.1, a free port
    await sink.start()                 # sink.port is now the real port
    ...                                # sink.messages, sink.by_recipient(), sink.connections_opened
    await sink.stop()

``start_in_thread()`` / ``stop_thread()`` run the same server in a private event loop on a
daemon thread, for synchronous callers.

Failures are injected deterministically: ``fail_next(451)`` answers the next RCPT with 451 and
then behaves again; ``fail_next(554, stage="DATA")`` does the same at the end of DATA;
``reject_address("x@example.fr")`` refuses that recipient with 550 for good; ``delay_s`` slows
every RCPT and DATA answer; ``drop_connections()`` closes open sessions without stopping.
``SmtpSink(login=("user", "password"))`` requires AUTH (PLAIN or LOGIN, over plain text: it is a
local sink) with those credentials and answers any others with 535, as a relay refusing ours.

In its own process (benchmarks, ``make demo``)::

    python -m broadcast.sandbox.smtp --port 8025 --count-file var/smtp-count [--save-dir DIR]

prints one line, ``smtp sink listening on HOST:PORT`` (useful with ``--port 0``), then nothing
per message. It parses nothing and keeps nothing in memory; it writes the number of messages
accepted so far, as a bare integer, to ``--count-file`` every 0.2 s and once more on exit
(atomically, by rename, so ``int(path.read_text())`` always reads a whole number). With
``--save-dir`` each message is also written there as ``NNNNNNNN.eml``. SIGTERM or SIGINT stop it.
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import warnings
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from functools import cached_property
from pathlib import Path
from typing import Literal

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from broadcast.sandbox.counting import report_count_until_stopped
from broadcast.sandbox.smtp_counter import MessageCounter, start_counting_server

Stage = Literal["RCPT", "DATA"]

_SERVER_NAME = "broadcast-sink"
_STOP_GRACE_S = 1.0
_THREAD_START_TIMEOUT_S = 10.0


@dataclass
class CapturedMessage:
    """One message as the sink received it: the envelope and the raw bytes of DATA."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    received_at: datetime

    @cached_property
    def message(self) -> EmailMessage:
        """The parsed message, with line endings made ``\\n`` so text content reads naturally."""
        parsed = BytesParser(policy=policy.default).parsebytes(self.data.replace(b"\r\n", b"\n"))
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    @property
    def to(self) -> str:
        return str(self.message["To"] or "")


@dataclass(frozen=True)
class _Reply:
    code: int
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.text}"


class SmtpSink:
    """An SMTP server on ``host:port`` that accepts everything unless told to fail."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        keep: bool = True,
        save_dir: Path | None = None,
        login: tuple[str, str] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.keep = keep
        """Keep each message in :attr:`messages`; off, the sink only counts."""
        self.save_dir = save_dir
        self.login = login
        """The (user, password) a client must authenticate with; None accepts anyone."""
        self.logins_refused = 0
        self.delay_s = 0.0
        self.messages: list[CapturedMessage] = []
        self.received = 0
        self.connections_opened = 0
        self._pending_failures: dict[Stage, deque[_Reply]] = {"RCPT": deque(), "DATA": deque()}
        self._rejected: dict[str, _Reply] = {}
        self._server: asyncio.Server | None = None
        self._sessions: set[_SinkSMTP] = set()
        self._handler = _SinkHandler(self)
        self._thread: threading.Thread | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None

    # -- running -------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen in the running event loop; a restarted sink keeps its port."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: self._new_session(loop), self.host, self.port
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and drop every open connection, as a crashed relay would."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        lost = self.drop_connections()
        await server.wait_closed()
        if lost:
            await asyncio.wait(lost, timeout=_STOP_GRACE_S)

    def drop_connections(self) -> list[asyncio.Future[None]]:
        """Close every open connection now, as a relay closing idle sessions would.

        Returns futures done once each connection is gone, for callers that want to wait.
        """
        sessions = list(self._sessions)
        for session in sessions:
            if session.transport is not None:
                session.transport.close()
        return [session.lost for session in sessions]

    def start_in_thread(self) -> None:
        """Run the sink in a private event loop on a daemon thread."""
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="smtp-sink", daemon=True)
        thread.start()
        self._thread, self._thread_loop = thread, loop
        asyncio.run_coroutine_threadsafe(self.start(), loop).result(_THREAD_START_TIMEOUT_S)

    def stop_thread(self) -> None:
        thread, loop = self._thread, self._thread_loop
        if thread is None or loop is None:
            return
        asyncio.run_coroutine_threadsafe(self.stop(), loop).result(_THREAD_START_TIMEOUT_S)
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
        self._thread = self._thread_loop = None

    # -- what was received ---------------------------------------------------------------

    @property
    def open_connections(self) -> int:
        return len(self._sessions)

    def clear(self) -> None:
        self.messages.clear()
        self.received = 0
        self.connections_opened = 0

    def by_recipient(self) -> dict[str, list[CapturedMessage]]:
        received: dict[str, list[CapturedMessage]] = {}
        for message in self.messages:
            for recipient in message.rcpt_tos:
                received.setdefault(recipient, []).append(message)
        return received

    # -- failure injection ---------------------------------------------------------------

    def fail_next(
        self, code: int, times: int = 1, message: str | None = None, *, stage: Stage = "RCPT"
    ) -> None:
        """Answer the next ``times`` RCPT (or DATA) commands with ``code``, then behave again."""
        reply = _Reply(code, message or _default_text(code, stage))
        self._pending_failures[stage].extend([reply] * times)

    def reject_address(self, address: str, code: int = 550, message: str | None = None) -> None:
        """Refuse ``address`` at RCPT on every message from now on."""
        self._rejected[address.lower()] = _Reply(code, message or _default_text(code, "RCPT"))

    # -- used by the SMTP handler --------------------------------------------------------

    def _new_session(self, loop: asyncio.AbstractEventLoop) -> _SinkSMTP:
        self.connections_opened += 1
        return _SinkSMTP(self._handler, self._sessions, loop, self)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: object
    ) -> AuthResult:
        expected = self.login
        given = (
            (auth_data.login.decode(), auth_data.password.decode())
            if isinstance(auth_data, LoginPassword)
            else None
        )
        if expected is not None and given == expected:
            return AuthResult(success=True)
        self.logins_refused += 1
        return AuthResult(success=False, handled=False)

    async def _pause(self) -> None:
        if self.delay_s > 0:
            await asyncio.sleep(self.delay_s)

    def _failure_for(self, stage: Stage, address: str | None = None) -> _Reply | None:
        if address is not None and address.lower() in self._rejected:
            return self._rejected[address.lower()]
        pending = self._pending_failures[stage]
        return pending.popleft() if pending else None

    def _record(self, envelope: Envelope) -> None:
        self.received += 1
        data = envelope.original_content or b""
        if self.save_dir is not None:
            (self.save_dir / f"{self.received:08d}.eml").write_bytes(data)
        if self.keep:
            captured = CapturedMessage(
                mail_from=envelope.mail_from or "",
                rcpt_tos=list(envelope.rcpt_tos),
                data=data,
                received_at=datetime.now(UTC),
            )
            self.messages.append(captured)


class _SinkSMTP(SMTP):
    """aiosmtpd's SMTP session, tracked so that :meth:`SmtpSink.stop` can drop it."""

    def __init__(
        self,
        handler: _SinkHandler,
        sessions: set[_SinkSMTP],
        loop: asyncio.AbstractEventLoop,
        sink: SmtpSink,
    ) -> None:
        with warnings.catch_warnings():  # AUTH without TLS: a local sink, on purpose
            warnings.simplefilter("ignore", UserWarning)
            super().__init__(
                handler,
                hostname=_SERVER_NAME,
                enable_SMTPUTF8=True,
                loop=loop,
                auth_required=sink.login is not None,
                auth_require_tls=False,
                authenticator=sink._authenticate if sink.login is not None else None,
            )
        self._sessions = sessions
        self.lost: asyncio.Future[None] = loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._sessions.add(self)

    def connection_lost(self, error: Exception | None) -> None:
        self._sessions.discard(self)
        super().connection_lost(error)
        if not self.lost.done():
            self.lost.set_result(None)

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """``<addr> params`` split plainly. aiosmtpd 1.4 defines a typing.Protocol class and runs
        the email header parser on every MAIL and RCPT: a quarter of the sink's CPU."""
        stripped = arg.lstrip()
        end = stripped.find(">")
        if stripped.startswith("<") and end > 0 and "<" not in stripped[1:end]:
            return stripped[1:end], stripped[end + 1 :]
        address, rest = super()._getaddr(arg)
        return address, rest


class _SinkHandler:
    """aiosmtpd hooks: apply injected failures and delays, record accepted messages."""

    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        await self._sink._pause()
        failure = self._sink._failure_for("RCPT", address)
        if failure is not None:
            return str(failure)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await self._sink._pause()
        failure = self._sink._failure_for("DATA")
        if failure is not None:
            return str(failure)
        self._sink._record(envelope)
        return "250 2.0.0 OK: queued"


def _default_text(code: int, stage: Stage) -> str:
    if code < 500:
        return "4.3.0 Temporary failure, try again later"
    if stage == "RCPT":
        return "5.1.1 Mailbox unavailable"
    return "5.6.0 Message rejected"


# -- own process -------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m broadcast.sandbox.smtp``: see the module docstring."""
    args = _parse_args(argv)
    if args.save_dir is not None:
        args.save_dir.mkdir(parents=True, exist_ok=True)
    serve = _serve_counting if args.counting else _serve
    asyncio.run(serve(args.host, args.port, args.count_file, args.save_dir))


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m broadcast.sandbox.smtp",
        description="Local SMTP sink that accepts and counts every message.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025, help="0 picks a free port")
    parser.add_argument(
        "--count-file", type=Path, help="file rewritten every 0.2 s with the message count"
    )
    parser.add_argument("--save-dir", type=Path, help="also write each message there as .eml")
    parser.add_argument(
        "--counting",
        action="store_true",
        help="count-only responder for benchmarks (broadcast.sandbox.smtp_counter)",
    )
    return parser.parse_args(argv)


async def _serve(host: str, port: int, count_file: Path | None, save_dir: Path | None) -> None:
    sink = SmtpSink(host, port, keep=False, save_dir=save_dir)
    await sink.start()
    print(f"smtp sink listening on {sink.host}:{sink.port}", flush=True)
    try:
        await report_count_until_stopped(count_file, lambda: sink.received)
    finally:
        await sink.stop()


async def _serve_counting(
    host: str, port: int, count_file: Path | None, save_dir: Path | None
) -> None:
    if save_dir is not None:
        raise SystemExit("--counting keeps nothing: it cannot be used with --save-dir")
    counter = MessageCounter()
    server = await start_counting_server(host, port, counter)
    bound_host, bound_port = server.sockets[0].getsockname()[:2]
    print(f"smtp sink listening on {bound_host}:{bound_port}", flush=True)
    try:
        await report_count_until_stopped(count_file, lambda: counter.received)
    finally:
        server.close()


if __name__ == "__main__":
    main()

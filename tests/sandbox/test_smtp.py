"""The SMTP sink: records, counts, fails on demand, runs in a loop, a thread or a process."""

from __future__ import annotations

import asyncio
import smtplib
import sys
from pathlib import Path

import aiosmtplib
import pytest

from broadcast.sandbox.smtp import SmtpSink

MESSAGE = (
    "From: rectorat@example.fr\r\n"
    "To: {to}\r\n"
    "Subject: =?utf-8?q?Coupure_r=C3=A9seau?=\r\n"
    "\r\n"
    "Bonjour.\r\n"
)


async def send(port: int, *recipients: str) -> None:
    message = MESSAGE.format(to=", ".join(recipients))
    await aiosmtplib.send(
        message,
        sender="rectorat@example.fr",
        recipients=list(recipients),
        hostname="127.0.0.1",
        port=port,
    )


async def test_records_what_it_receives(sink: SmtpSink) -> None:
    await send(sink.port, "a@example.fr", "b@example.fr")
    await send(sink.port, "b@example.fr")

    assert sink.received == 2
    first = sink.messages[0]
    assert first.mail_from == "rectorat@example.fr"
    assert first.rcpt_tos == ["a@example.fr", "b@example.fr"]
    assert first.subject == "Coupure réseau"
    assert first.to == "a@example.fr, b@example.fr"
    assert first.message.get_content() == "Bonjour.\n"
    assert {k: len(v) for k, v in sink.by_recipient().items()} == {
        "a@example.fr": 1,
        "b@example.fr": 2,
    }
    assert sink.connections_opened == 2

    sink.clear()
    assert (sink.messages, sink.received, sink.connections_opened) == ([], 0, 0)


async def test_fail_next_then_behave(sink: SmtpSink) -> None:
    sink.fail_next(451, times=2)

    for _ in range(2):
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
            await send(sink.port, "a@example.fr")
        assert refused.value.recipients[0].code == 451
    await send(sink.port, "a@example.fr")

    assert sink.received == 1


async def test_fail_at_data(sink: SmtpSink) -> None:
    sink.fail_next(554, stage="DATA", message="5.7.1 Refused")

    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        await send(sink.port, "a@example.fr")

    assert (refused.value.code, refused.value.message) == (554, "5.7.1 Refused")
    assert sink.received == 0


async def test_rejected_address_is_always_refused(sink: SmtpSink) -> None:
    sink.reject_address("Gone@Example.fr")

    for _ in range(2):
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
            await send(sink.port, "gone@example.fr")
        assert refused.value.recipients[0].code == 550
    await send(sink.port, "gone@example.fr", "here@example.fr")

    assert sink.messages[0].rcpt_tos == ["here@example.fr"]


async def test_stop_drops_open_connections_and_restart_keeps_the_port(sink: SmtpSink) -> None:
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=sink.port)
    await client.connect()
    port = sink.port

    await sink.stop()
    with pytest.raises(aiosmtplib.SMTPServerDisconnected):
        await client.noop()
    await sink.start()

    assert sink.port == port
    await send(sink.port, "a@example.fr")
    assert sink.received == 1


def test_runs_in_a_thread_for_synchronous_callers() -> None:
    sink = SmtpSink()
    sink.start_in_thread()
    try:
        with smtplib.SMTP("127.0.0.1", sink.port) as client:
            client.sendmail("rectorat@example.fr", ["a@example.fr"], MESSAGE.format(to="a"))
    finally:
        sink.stop_thread()

    assert sink.received == 1


async def test_runs_in_its_own_process_and_reports_its_count(tmp_path: Path) -> None:
    count_file = tmp_path / "count"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "broadcast.sandbox.smtp",
        "--port",
        "0",
        "--count-file",
        str(count_file),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        banner = (await asyncio.wait_for(process.stdout.readline(), 10)).decode()
        port = int(banner.strip().rpartition(":")[2])
        for i in range(3):
            await send(port, f"parent.{i}@example.fr")
        count = await read_count_until(count_file, 3)
    finally:
        process.terminate()
        await process.wait()

    assert count == 3
    assert process.returncode == 0
    assert count_file.read_text() == "3\n"


async def read_count_until(count_file: Path, expected: int) -> int:
    count = -1
    for _ in range(50):
        count = read_count(count_file)
        if count >= expected:
            break
        await asyncio.sleep(0.1)
    return count


def read_count(count_file: Path) -> int:
    return int(count_file.read_text()) if count_file.exists() else -1

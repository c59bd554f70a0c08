"""How a sandbox run as a benchmark's process reports what it received: it rewrites a count file
every interval until SIGINT or SIGTERM, then once more, for the benchmark to read."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable
from pathlib import Path

COUNT_INTERVAL_S = 0.2


async def report_count_until_stopped(
    count_file: Path | None, count: Callable[[], int], interval_s: float = COUNT_INTERVAL_S
) -> None:
    """Rewrite ``count_file`` with ``count()`` every ``interval_s`` until SIGINT or SIGTERM,
    and once more on the way out."""
    stopping = _stop_on_signals()
    try:
        while not stopping.is_set():
            write_count(count_file, count())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), interval_s)
    finally:
        write_count(count_file, count())


def _stop_on_signals() -> asyncio.Event:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # signal handlers do not exist on Windows
            loop.add_signal_handler(signum, stopping.set)
    return stopping


def write_count(count_file: Path | None, count: int) -> None:
    """Replace the file whole, so a reader never sees a half-written number."""
    if count_file is None:
        return
    partial = count_file.with_name(count_file.name + ".tmp")
    partial.write_text(f"{count}\n")
    os.replace(partial, count_file)

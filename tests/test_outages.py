"""What counts as a service away (wait and try again) rather than a fault of the work."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from broadcast.core.outages import is_outage


async def test_a_unix_socket_that_is_not_there_is_an_outage(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as caught:
        await asyncio.open_unix_connection(str(tmp_path / "restarting.sock"))
    assert is_outage(caught.value)


def test_a_missing_file_is_not_an_outage(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as caught:
        (tmp_path / "template.html").read_text()
    assert not is_outage(caught.value)

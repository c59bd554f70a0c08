"""PostgreSQL for the test suite and the benchmarks: the one that answers, or a throwaway cluster.

``make test`` and ``python -m bench.fanout`` call :func:`postgres_url`. It returns
``BROADCAST_TEST_POSTGRES_URL`` when set; otherwise a server answering on 127.0.0.1:5432; otherwise
it runs ``initdb`` into a temporary directory and starts a private postgres on a unix socket there,
stopped when the process exits. As root, initdb refuses to run, so the cluster is owned by
``nobody``.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

DEFAULT_LOCAL_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def free_port() -> int:
    """A loopback TCP port nothing listens on now, for a server of the demo or the tests."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _port_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _pg_binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    if not candidates:
        raise RuntimeError(
            f"no PostgreSQL answers on 127.0.0.1:5432 and '{name}' is not installed: "
            "install PostgreSQL or set BROADCAST_TEST_POSTGRES_URL"
        )
    return candidates[0]


def _as_cluster_owner(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *argv]


class ThrowawayPostgres:
    """A private PostgreSQL cluster in a temporary directory, listening on a unix socket only."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="broadcast-pg-"))
        self.data = self.directory / "data"
        self.started = False
        self.url = ""

    def start(self) -> str:
        if os.geteuid() == 0:
            shutil.chown(self.directory, "nobody", "nogroup")
        subprocess.run(  # noqa: S603
            _as_cluster_owner(
                [_pg_binary("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust"]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        options = f"-k {self.directory} -c listen_addresses='' -c fsync=off -c max_connections=200"
        subprocess.run(  # noqa: S603
            _as_cluster_owner(
                [
                    _pg_binary("pg_ctl"),
                    "-D",
                    str(self.data),
                    "-o",
                    options,
                    "-w",
                    "-s",
                    "-l",
                    str(self.directory / "log"),
                    "start",
                ]
            ),
            check=True,
        )
        self.started = True
        atexit.register(self.stop)
        self.url = f"postgresql+asyncpg://postgres@/postgres?host={self.directory}"
        return self.url

    def restart(self) -> None:
        """Stop the server (fast: open connections are cut) and start it again with the same
        options, as an operator's restart does; returns once it accepts connections."""
        subprocess.run(  # noqa: S603
            _as_cluster_owner(
                [_pg_binary("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-s", "restart"]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        if self.started:
            subprocess.run(  # noqa: S603
                _as_cluster_owner(
                    [_pg_binary("pg_ctl"), "-D", str(self.data), "-m", "fast", "-s", "stop"]
                ),
                check=False,
            )
            self.started = False
        shutil.rmtree(self.directory, ignore_errors=True)


def postgres_url() -> str:
    """A PostgreSQL URL for tests and benchmarks, starting a throwaway cluster if none answers."""
    configured = os.environ.get("BROADCAST_TEST_POSTGRES_URL")
    if configured:
        return configured
    if _port_answers("127.0.0.1", 5432):
        return DEFAULT_LOCAL_URL
    return ThrowawayPostgres().start()

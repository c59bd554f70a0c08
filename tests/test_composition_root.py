"""The ``broadcast`` command is the one composition root (issue 10, item 5 and 6): nothing
else under broadcast/ imports admin/ or workers/, nothing loads them by an importlib string,
and its worker serves the queues of ``broadcast.jobs.QUEUES``."""

from __future__ import annotations

import re
from pathlib import Path

from broadcast.cli import _parser
from broadcast.jobs import QUEUES, queues_named

ROOT = Path(__file__).resolve().parents[1]
IMPORTS_ADMIN_OR_WORKERS = re.compile(r"^\s*(from|import)\s+(admin|workers)\b", re.MULTILINE)


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_only_the_command_imports_admin_and_workers() -> None:
    importers = [
        str(path.relative_to(ROOT))
        for path in sources("broadcast")
        if IMPORTS_ADMIN_OR_WORKERS.search(path.read_text())
    ]
    assert importers == ["broadcast/cli.py"]


def test_no_module_is_loaded_by_an_importlib_string() -> None:
    loaders = [
        str(path.relative_to(ROOT))
        for package in ("broadcast", "admin", "workers")
        for path in sources(package)
        if "import_module" in path.read_text()
    ]
    assert loaders == []


def test_the_worker_serves_every_queue_of_the_jobs_module_by_default() -> None:
    args = _parser().parse_args(["worker"])
    assert queues_named(args.queues) == list(QUEUES)

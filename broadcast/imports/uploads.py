"""Uploaded files waiting for their import job, under ``settings.var_dir/imports/<run id>/``.
They are deleted once the run is finished: the contacts are in the database, the file is not
kept (RULES R1)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path

from broadcast.core.errors import InvalidInput

CHUNK_BYTES = 1 << 20
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def upload_dir(var_dir: Path, run_id: int) -> Path:
    return var_dir / "imports" / str(run_id)


def safe_filename(name: str) -> str:
    """The file's base name, reduced to characters safe on any disk (``import`` if none)."""
    base = _UNSAFE.sub("_", name.replace("\\", "/").rsplit("/", 1)[-1]).strip("._")
    return base[:100] or "import"


async def save_upload(
    read: Callable[[int], Awaitable[bytes]],
    var_dir: Path,
    run_id: int,
    filename: str,
    max_bytes: int,
) -> Path:
    """Copy the upload by chunks; refuse it (and keep nothing) beyond ``max_bytes``."""
    directory = upload_dir(var_dir, run_id)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / safe_filename(filename)
    size = 0
    with path.open("wb") as out:
        while chunk := await read(CHUNK_BYTES):
            size += len(chunk)
            if size > max_bytes:
                out.close()
                discard_upload(var_dir, run_id)
                raise _too_large(max_bytes)
            out.write(chunk)
    return path


def _too_large(max_bytes: int) -> InvalidInput:
    megabytes = max_bytes // (1 << 20)
    return InvalidInput(
        f"Fichier trop volumineux : au plus {megabytes} Mo.",
        f"File too large: at most {megabytes} MB.",
    )


def stored_upload(var_dir: Path, run_id: int) -> Path | None:
    directory = upload_dir(var_dir, run_id)
    files = sorted(directory.iterdir()) if directory.is_dir() else []
    return files[0] if files else None


def discard_upload(var_dir: Path, run_id: int) -> None:
    shutil.rmtree(upload_dir(var_dir, run_id), ignore_errors=True)

"""Import bombs: a worker's memory on small uploads that inflate to huge files (issue 9, item 9).

    python -m bench.import_bombs [--json]

Two uploads, each under the upload limit, each run by a real ``broadcast worker`` process (the
import job as ``POST /api/v1/imports`` queues it), on a fresh PostgreSQL database (as
``bench.fanout`` makes it) and a private Redis:

- ``xml-zip``: a zip of about 250 KB holding a SIECLE pupils' file of 100 MiB made of elements
  no reader wants (``<OPTION><CODE>X</CODE></OPTION>`` repeated), around three pupils;
- ``csv-zip``: a zip of about 1 MB holding a CSV file whose second line is 1 GB long.

For each: the worker's RSS just before the job (the worker started and idle) and its peak while
the job runs (sampled every 0.1 s), the run's outcome and the French reason of a refusal. The
goal: the RSS grows by less than 100 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil
from arq.connections import ArqRedis
from arq.constants import health_check_key_suffix

from bench.fanout import (
    RssSampler,
    fresh_database,
    server_url,
    start_workers,
    stop_processes,
    worker_environment,
)
from bench.imports import _school
from broadcast.core.db import SessionFactory, create_engine, session_factory, transaction
from broadcast.core.embedded_redis import EmbeddedRedis
from broadcast.core.redis_url import connect as connect_redis
from broadcast.core.uow import Enqueuer, enqueue_after_commit
from broadcast.directory.models import Organisation
from broadcast.directory.uai import make_uai
from broadcast.imports.models import ImportRun
from broadcast.imports.service import create_run
from broadcast.imports.uploads import upload_dir
from broadcast.jobs import IMPORT_QUEUE, import_job
from broadcast.settings import Settings

UAI = make_uai("0670100")
MIB = 1 << 20
JOB_TIMEOUT_S = 600
IDLE_S = 2.0
START_TIMEOUT_S = 120


@dataclass
class Result:
    bomb: str
    upload_kb: float
    inflated_mb: float
    status: str
    error: str | None
    seconds: float
    rss_before_mb: float
    rss_peak_mb: float
    rss_growth_mb: float


def write_xml_bomb(path: Path, inflated_bytes: int = 100 * MIB) -> int:
    """A zip of a SIECLE pupils' file: three pupils after ``inflated_bytes`` of junk elements."""
    junk = b"<OPTION><CODE>X</CODE></OPTION>" * 4096
    head = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<BEE_ELEVES VERSION="3.1">'
        b"<PARAMETRES><UAJ>" + UAI.encode() + b"</UAJ></PARAMETRES><DONNEES><ELEVES>"
    )
    pupils = b"".join(
        b'<ELEVE ELEVE_ID="%d"><NOM_DE_FAMILLE>NOM</NOM_DE_FAMILLE></ELEVE>' % n for n in range(3)
    )
    tail = b"</ELEVES></DONNEES></BEE_ELEVES>\n"
    blocks = [junk] * (inflated_bytes // len(junk))  # whole elements only
    return _zip(path, "ElevesSansAdresses.xml", [head, blocks, pupils, tail])


def write_csv_bomb(path: Path, line_bytes: int = 1_000_000_000) -> int:
    """A zip of a CSV file whose second line is ``line_bytes`` long."""
    return _zip(path, "contacts.csv", [b"Nom;Courriel\r\nRoth;", _repeat(b"a" * MIB, line_bytes)])


def _repeat(block: bytes, total: int) -> list[bytes]:
    count, rest = divmod(total, len(block))
    return [block] * count + [block[:rest]]


def _zip(path: Path, member: str, parts: list[bytes | list[bytes]]) -> int:
    size = 0
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive,
        archive.open(member, "w", force_zip64=True) as out,
    ):
        for part in parts:
            for block in part if isinstance(part, list) else [part]:
                out.write(block)
                size += len(block)
    return size


async def _run(factory: SessionFactory, school_id: int, var_dir: Path, upload: Path) -> int:
    async with transaction(factory) as session:
        school = await session.get(Organisation, school_id)
        assert school is not None
        run = await create_run(session, None, school, filename=upload.name)
    directory = upload_dir(var_dir, run.id or 0)
    directory.mkdir(parents=True)
    shutil.copy(upload, directory / upload.name)
    return run.id or 0


async def _finished(factory: SessionFactory, run_id: int) -> ImportRun:
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while time.monotonic() < deadline:
        async with transaction(factory) as session:
            run = await session.get(ImportRun, run_id)
        if run is not None and run.status in ("completed", "failed"):
            return run
        await asyncio.sleep(0.2)
    raise TimeoutError(f"import {run_id} did not finish in {JOB_TIMEOUT_S} s")


async def _measure_one(
    factory: SessionFactory,
    queue: Enqueuer,
    worker: psutil.Process,
    school_id: int,
    var_dir: Path,
    bomb: tuple[str, Path, int],
) -> Result:
    name, upload, inflated = bomb
    run_id = await _run(factory, school_id, var_dir, upload)
    before = worker.memory_info().rss
    sampler = RssSampler([worker.pid])
    sampler.start()
    started = time.perf_counter()
    async with transaction(factory, queue) as session:
        enqueue_after_commit(session, import_job(run_id))
    run = await _finished(factory, run_id)
    seconds = time.perf_counter() - started
    sampler.stop()
    peak = max(sampler.peaks[worker.pid], before)
    return Result(
        bomb=name,
        upload_kb=round(upload.stat().st_size / 1000, 1),
        inflated_mb=round(inflated / 1e6, 1),
        status=run.status,
        error=run.error,
        seconds=round(seconds, 2),
        rss_before_mb=round(before / 1e6, 1),
        rss_peak_mb=round(peak / 1e6, 1),
        rss_growth_mb=round((peak - before) / 1e6, 1),
    )


async def _started(pool: ArqRedis) -> None:
    """Wait until the worker polls the import queue (arq's health key), then a little more."""
    key = IMPORT_QUEUE + health_check_key_suffix
    deadline = time.monotonic() + START_TIMEOUT_S
    while not await pool.exists(key):
        if time.monotonic() > deadline:
            raise TimeoutError("the worker did not start")
        await asyncio.sleep(0.2)
    await asyncio.sleep(IDLE_S)


async def _measure(database_url: str, directory: Path) -> list[Result]:
    bombs = [
        ("xml-zip", directory / "eleves.zip", write_xml_bomb(directory / "eleves.zip")),
        ("csv-zip", directory / "contacts.zip", write_csv_bomb(directory / "contacts.zip")),
    ]
    var_dir = directory / "var"
    redis_server = EmbeddedRedis(directory / "redis")
    redis_url = redis_server.start()
    engine = create_engine(Settings(env="dev", database_url=database_url))
    factory = session_factory(engine)
    env = worker_environment(database_url, redis_url, 25, 1, {"BROADCAST_VAR_DIR": str(var_dir)})
    workers = []
    try:
        school_id = await _school(factory)
        workers = start_workers(1, env, directory)
        pool = await connect_redis(redis_url)
        await _started(pool)
        worker = psutil.Process(workers[0].pid)
        try:
            return [
                await _measure_one(factory, pool, worker, school_id, var_dir, bomb)
                for bomb in bombs
            ]
        finally:
            await pool.aclose()
    finally:
        stop_processes(workers)
        await engine.dispose()
        redis_server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.import_bombs", description=__doc__)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with fresh_database(server_url()) as url, tempfile.TemporaryDirectory() as directory:
        results = asyncio.run(_measure(url, Path(directory)))
    for result in results:
        if args.json:
            print(json.dumps(asdict(result), ensure_ascii=False))
        else:
            print(
                f"{result.bomb}: {result.upload_kb} KB upload, {result.inflated_mb} MB inflated, "
                f"{result.status} in {result.seconds} s, worker RSS {result.rss_before_mb} -> "
                f"{result.rss_peak_mb} MB (+{result.rss_growth_mb} MB): {result.error}"
            )


if __name__ == "__main__":
    main()

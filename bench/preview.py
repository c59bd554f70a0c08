"""The preview benchmark: how long an officer waits for an académie-wide draft and its preview.

    python -m bench.preview [--recipients 100000] [--runs 5] [--json]

Seeds N guardians on PostgreSQL exactly as ``bench.fanout`` does (a fresh database, dropped at
the end), then times ``create_draft`` + ``preview`` (recipients per channel and locale, who is
left out and why, expected durations) for an email broadcast to every guardian of the académie,
``--runs`` times, each in its own rolled-back transaction. Prints the median and the worst run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Sequence

from bench.fanout import Seeded, fresh_database, seed, server_url
from broadcast.audiences.criteria import AudienceCriteria
from broadcast.broadcasts.schemas import BroadcastIn
from broadcast.broadcasts.service import create_draft, preview
from broadcast.channels.base import ChannelName
from broadcast.core.db import create_engine, session_factory
from broadcast.directory.models import ContactRole
from broadcast.settings import Settings


async def _time_previews(database_url: str, seeded: Seeded, runs: int) -> list[float]:
    settings = Settings(env="dev", database_url=database_url)
    engine = create_engine(settings)
    factory = session_factory(engine)
    data = BroadcastIn(
        notice_id=seeded.notice_id,
        audience=AudienceCriteria(
            organisation_ids=[seeded.academie_id], roles=[ContactRole.guardian]
        ),
        channels=[ChannelName.email],
    )
    durations: list[float] = []
    try:
        for _ in range(runs):
            async with factory() as session, session.begin():
                started = time.perf_counter()
                draft = await create_draft(session, seeded.principal, data)
                result = await preview(session, seeded.principal, draft, settings=settings)
                durations.append(time.perf_counter() - started)
                assert result.channels[0].recipients > 0
                await session.rollback()
    finally:
        await engine.dispose()
    return durations


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.preview", description=__doc__)
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with fresh_database(server_url()) as database_url:
        seeded = asyncio.run(seed(database_url, args.recipients))
        durations = asyncio.run(_time_previews(database_url, seeded, args.runs))
    result = {
        "recipients": args.recipients,
        "preview_median_ms": round(statistics.median(durations) * 1000, 1),
        "preview_max_ms": round(max(durations) * 1000, 1),
        "runs": args.runs,
    }
    print(json.dumps(result) if args.json else f"preview of {args.recipients}: {result}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The webhook benchmark: how fast stored events reach their subscribers.

    python -m bench.webhooks [--events 1000] [--endpoints 5] [--json]

On a fresh PostgreSQL database (dropped at the end) and a private Redis, ``--endpoints``
endpoints of the académie subscribe to ``notice.updated``; ``--events`` events are emitted in one
transaction (one message per endpoint each), then enqueued. The clock starts at the enqueue and
stops when one in-process worker (webhook queue, burst mode) has drained the queue; every message
must then be ``delivered``. The subscriber is a local aiohttp server in the same process that
counts requests and answers 204 (it does not verify signatures: that is the subscriber's cost).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web
from sqlalchemy import func, select
from sqlmodel import col

from bench.fanout import Seeded, fresh_database, seed, server_url
from broadcast.core.db import SessionFactory, create_engine, session_factory, transaction
from broadcast.core.embedded_redis import EmbeddedRedis
from broadcast.core.uow import enqueue_after_commit
from broadcast.directory.models import Organisation
from broadcast.jobs import WEBHOOK_QUEUE, webhook_job
from broadcast.settings import Settings
from broadcast.webhooks.events import emit_event
from broadcast.webhooks.models import WebhookEndpoint, WebhookEvent, WebhookMessage
from broadcast.webhooks.signing import new_secret
from workers.main import build_workers
from workers.resources import Resources


async def _start_subscriber() -> tuple[web.AppRunner, str, list[int]]:
    received: list[int] = []

    async def accept(request: web.Request) -> web.Response:
        await request.read()
        received.append(1)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook/{n}", accept)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}", received


async def _emit(
    factory: SessionFactory, seeded: Seeded, base: str, endpoints: int, events: int
) -> list[int]:
    async with transaction(factory) as session:
        for n in range(endpoints):
            session.add(
                WebhookEndpoint(
                    organisation_id=seeded.academie_id,
                    url=f"{base}/hook/{n}",
                    events=[WebhookEvent.notice_updated.value],
                    secret=new_secret(),
                )
            )
        await session.flush()
        academie = await session.get(Organisation, seeded.academie_id)
        assert academie is not None
        ids: list[int] = []
        for n in range(events):
            data = {"notice": {"id": seeded.notice_id, "title": "ENT indisponible"}, "n": n}
            ids += await emit_event(session, WebhookEvent.notice_updated, academie, data)
    return ids


async def _delivered(factory: SessionFactory) -> int:
    async with transaction(factory) as session:
        found = await session.scalar(
            select(func.count()).where(col(WebhookMessage.status) == "delivered")
        )
    return int(found or 0)


async def run(database_url: str, redis_url: str, events: int, endpoints: int) -> dict[str, float]:
    settings = Settings(
        env="dev",
        database_url=database_url,
        redis_url=redis_url,
        webhooks_allow_internal=True,
        worker_poll_delay_s=0.01,
    )
    seeded = await seed(database_url, 1)
    runner, base, received = await _start_subscriber()
    resources = await Resources.open(settings, redis_url)
    engine = create_engine(settings)
    factory = session_factory(engine)
    try:
        ids = await _emit(factory, seeded, base, endpoints, events)
        started = time.perf_counter()
        async with transaction(factory, resources.redis) as session:
            enqueue_after_commit(session, *(webhook_job(message_id) for message_id in ids))
        workers = build_workers(resources, redis_url, [WEBHOOK_QUEUE], burst=True)
        await asyncio.gather(*(w.async_run() for w in workers))
        elapsed = time.perf_counter() - started
        for worker in workers:
            await worker.close()
        delivered = await _delivered(factory)
    finally:
        await engine.dispose()
        await resources.close()
        await runner.cleanup()
    assert delivered == len(ids) == len(received), (delivered, len(ids), len(received))
    return {
        "messages": len(ids),
        "seconds": round(elapsed, 2),
        "delivered_per_s": round(len(ids) / elapsed, 1),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.webhooks", description=__doc__)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--endpoints", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as directory, fresh_database(server_url()) as database_url:
        redis_server = EmbeddedRedis(Path(directory))
        redis_url = redis_server.start()
        try:
            result = asyncio.run(run(database_url, redis_url, args.events, args.endpoints))
        finally:
            redis_server.stop()
    print(json.dumps(result) if args.json else f"webhooks: {result}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

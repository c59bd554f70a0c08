"""Issue 9, item 13: ``broadcast worker`` serves every queue of broadcast.jobs.QUEUES unless told
otherwise, so imports and webhooks do not stay pending in the demo; an unknown queue is refused
in French."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import redis.asyncio as aioredis
from arq.connections import ArqRedis

from broadcast.cli import main
from broadcast.core.db import SessionFactory
from broadcast.jobs import IMPORT_QUEUE, QUEUES, WEBHOOK_QUEUE
from broadcast.settings import Settings, get_settings
from tests.conftest import TEST_SECRET


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("BROADCAST_ENV", "dev")
    monkeypatch.setenv("BROADCAST_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("BROADCAST_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("BROADCAST_REDIS_URL", str(settings.redis_url))
    monkeypatch.setenv("BROADCAST_VAR_DIR", str(settings.var_dir))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def _pending(redis: aioredis.Redis) -> dict[str, int]:
    return {queue: int(await redis.zcard(queue)) for queue in QUEUES}


async def test_the_worker_command_serves_every_queue_by_default(
    settings: Settings, factory: SessionFactory, redis: aioredis.Redis, cli_env: None
) -> None:
    pool = ArqRedis(connection_pool=redis.connection_pool)
    # jobs of objects that do not exist: each one is taken, finds nothing to do and ends
    await pool.enqueue_job("import_contacts", 999_999, _queue_name=IMPORT_QUEUE)
    await pool.enqueue_job("deliver_webhook", 999_999, _queue_name=WEBHOOK_QUEUE)
    before = await _pending(redis)
    assert await asyncio.to_thread(main, ["worker", "--burst"]) == 0
    assert before[IMPORT_QUEUE] == before[WEBHOOK_QUEUE] == 1
    assert await _pending(redis) == dict.fromkeys(QUEUES, 0)


def test_an_unknown_queue_is_refused_in_french(
    cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["worker", "--queues", "urgent,courriels"]) == 2
    assert capsys.readouterr().err.strip() == (
        "Erreur : File inconnue : courriels. Files possibles : urgent, bulk, webhooks, imports."
    )

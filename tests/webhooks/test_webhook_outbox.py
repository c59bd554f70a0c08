"""Webhook messages are written in the caller's transaction and their delivery jobs reach arq
(a real Redis) once it commits: one job per message, none when the transaction rolls back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool
from sqlalchemy import func, select

from broadcast.core.db import SessionFactory, transaction
from broadcast.directory.models import Organisation
from broadcast.jobs import WEBHOOK_QUEUE, webhook_job_id
from broadcast.settings import Settings
from broadcast.webhooks.events import emit_event
from broadcast.webhooks.models import WebhookEndpoint, WebhookEvent, WebhookMessage
from tests.support import build_world


class Refused(Exception):
    pass


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[ArqRedis]:
    redis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    yield redis
    await redis.aclose()


async def _subscribed_school(factory: SessionFactory) -> int:
    world = await build_world(factory)
    async with transaction(factory) as session:
        for path in ("/a", "/b"):
            session.add(
                WebhookEndpoint(
                    organisation_id=world.academie,
                    url=f"https://ent.example.fr{path}",
                    events=[WebhookEvent.notice_created.value],
                    secret="whsec_" + "A" * 32,
                )
            )
    return world.school_x


async def _emit(factory: SessionFactory, pool: ArqRedis, school_id: int, fail: bool) -> list[int]:
    async with transaction(factory, pool) as session:
        school = await session.get(Organisation, school_id)
        assert school is not None
        ids = await emit_event(session, WebhookEvent.notice_created, school, {"notice": {}})
        if fail:
            raise Refused()
    return ids


async def _queued(pool: ArqRedis) -> list[str]:
    return sorted(job.job_id or "" for job in await pool.queued_jobs(queue_name=WEBHOOK_QUEUE))


async def _message_count(factory: SessionFactory) -> int:
    async with transaction(factory) as session:
        return int(await session.scalar(select(func.count()).select_from(WebhookMessage)) or 0)


async def test_a_committed_event_queues_one_delivery_job_per_subscriber(
    factory: SessionFactory, pool: ArqRedis
) -> None:
    school_id = await _subscribed_school(factory)
    ids = await _emit(factory, pool, school_id, fail=False)
    assert len(ids) == 2
    assert await _queued(pool) == sorted(webhook_job_id(i) for i in ids)
    assert await _message_count(factory) == 2


async def test_an_event_whose_transaction_fails_queues_nothing(
    factory: SessionFactory, pool: ArqRedis
) -> None:
    school_id = await _subscribed_school(factory)
    with pytest.raises(Refused):
        await _emit(factory, pool, school_id, fail=True)
    assert await _queued(pool) == []
    assert await _message_count(factory) == 0

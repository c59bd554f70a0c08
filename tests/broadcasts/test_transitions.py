"""What a broadcast's new status triggers reaches arq (a real Redis, no worker running) once
its transaction commits, exactly once, and nothing when the transaction fails afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool

from broadcast.accounts.service import Principal, authenticate_api_key
from broadcast.broadcasts import service
from broadcast.broadcasts.models import Broadcast
from broadcast.broadcasts.scheduling import queue_due_broadcasts
from broadcast.core.db import SessionFactory, transaction
from broadcast.core.timeutil import utcnow
from broadcast.jobs import BULK_QUEUE, QUEUES
from broadcast.settings import ApprovalThreshold, Settings
from tests.support import World, add_contacts, api, auth, build_world, guardians, next_june


class Refused(Exception):
    pass


@pytest.fixture
async def pool(settings: Settings, factory: SessionFactory) -> AsyncIterator[ArqRedis]:
    redis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    yield redis
    await redis.aclose()


async def _queued(pool: ArqRedis) -> list[str]:
    jobs = [job for queue in QUEUES for job in await pool.queued_jobs(queue_name=queue)]
    return sorted(job.job_id or "" for job in jobs)


async def _draft(client: httpx.AsyncClient, world: World, **extra: object) -> int:
    key = auth(world.keys["head_x"])
    notice = await client.post(
        "/api/v1/notices",
        headers=key,
        json={"organisation_id": world.school_x, "title": "Cantine", "message": "Fermée."},
    )
    draft = await client.post(
        "/api/v1/broadcasts",
        headers=key,
        json={
            "notice_id": notice.json()["id"],
            "audience": {"organisation_ids": [world.school_x]},
            "channels": ["email"],
            **extra,
        },
    )
    assert draft.status_code == 201, draft.text
    draft_id: int = draft.json()["id"]
    return draft_id


async def _confirm(client: httpx.AsyncClient, world: World, draft_id: int) -> str:
    confirmed = await client.post(
        f"/api/v1/broadcasts/{draft_id}/confirm", headers=auth(world.keys["head_x"])
    )
    assert confirmed.status_code == 202, confirmed.text
    status: str = confirmed.json()["status"]
    return status


@pytest.fixture
async def world(factory: SessionFactory) -> World:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 3))
    return world


async def test_a_confirmed_broadcast_queues_its_fan_out_once(
    settings: Settings, world: World, pool: ArqRedis
) -> None:
    async with api(settings) as client:
        draft_id = await _draft(client, world)
        assert await _queued(pool) == []
        assert await _confirm(client, world, draft_id) == "queued"
    assert await _queued(pool) == [f"fanout:{draft_id}"]
    [job] = await pool.queued_jobs(queue_name=BULK_QUEUE)
    assert (job.function, job.args) == ("fanout", (draft_id,))


async def test_a_broadcast_waiting_for_approval_queues_the_approvers_email_only(
    settings: Settings, world: World, pool: ArqRedis
) -> None:
    strict = settings.model_copy(
        update={"approval_thresholds": {"etablissement": ApprovalThreshold(recipients=2)}}
    )
    async with api(strict) as client:
        draft_id = await _draft(client, world)
        assert await _confirm(client, world, draft_id) == "pending_approval"
    assert await _queued(pool) == [f"approval-request:{draft_id}"]


async def test_a_scheduled_broadcast_queues_nothing_until_the_scheduler_queues_it(
    settings: Settings, factory: SessionFactory, world: World, pool: ArqRedis
) -> None:
    async with api(settings) as client:
        draft_id = await _draft(client, world, scheduled_at=f"{next_june()}-06-01T08:00:00")
        assert await _confirm(client, world, draft_id) == "scheduled"
    assert await _queued(pool) == []
    later = utcnow() + timedelta(days=370)
    assert await queue_due_broadcasts(factory, pool, now=later) == [draft_id]
    assert await queue_due_broadcasts(factory, pool, now=later) == []
    assert await _queued(pool) == [f"fanout:{draft_id}"]


async def _principal(factory: SessionFactory, world: World) -> Principal:
    async with transaction(factory) as session:
        return await authenticate_api_key(session, world.keys["head_x"])


async def test_a_confirm_whose_transaction_fails_afterwards_queues_nothing(
    settings: Settings, factory: SessionFactory, world: World, pool: ArqRedis
) -> None:
    async with api(settings) as client:
        draft_id = await _draft(client, world)
    principal = await _principal(factory, world)
    with pytest.raises(Refused):
        async with transaction(factory, pool) as session:
            draft = await session.get(Broadcast, draft_id)
            assert draft is not None
            await service.confirm(session, principal, draft, settings)
            assert draft.status == "queued"
            raise Refused()
    assert await _queued(pool) == []
    async with transaction(factory) as session:
        draft = await session.get(Broadcast, draft_id)
        assert draft is not None and draft.status == "draft"


async def test_a_resume_queues_a_fan_out_of_its_own_once(
    settings: Settings, world: World, pool: ArqRedis
) -> None:
    key = auth(world.keys["head_x"])
    async with api(settings) as client:
        draft_id = await _draft(client, world)
        await _confirm(client, world, draft_id)
        paused = await client.post(f"/api/v1/broadcasts/{draft_id}/pause", headers=key)
        assert paused.status_code == 200, paused.text
        resumed = await client.post(f"/api/v1/broadcasts/{draft_id}/resume", headers=key)
        assert resumed.status_code == 202, resumed.text
        again = await client.post(f"/api/v1/broadcasts/{draft_id}/resume", headers=key)
        assert again.status_code == 409
    first, resumed_fanout = await _queued(pool)
    assert first == f"fanout:{draft_id}"
    assert resumed_fanout.startswith(f"fanout:{draft_id}:resumed:pause-")

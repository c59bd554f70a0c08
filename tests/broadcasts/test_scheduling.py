"""Scheduled broadcasts (issue 5 item 4) on both databases: Europe/Paris times, the cron pass run
by two workers at once starting a due broadcast exactly once (one status change, one fan-out),
and changes or cancellation until it starts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlmodel import col

from broadcast.accounts.models import AuditEvent
from broadcast.accounts.service import authenticate_api_key
from broadcast.broadcasts.changes import change_broadcast
from broadcast.broadcasts.models import Broadcast
from broadcast.broadcasts.scheduling import PARIS, claim_due, paris_to_utc, queue_due_broadcasts
from broadcast.broadcasts.schemas import BroadcastPatch
from broadcast.core.db import SessionFactory, transaction
from broadcast.core.errors import Conflict
from broadcast.core.timeutil import utcnow
from broadcast.sandbox.smtp import SmtpSink
from broadcast.settings import Settings
from tests.support import (
    World,
    add_contacts,
    api,
    auth,
    build_world,
    guardians,
    next_june,
    run_burst_workers,
)
from workers.resources import Resources
from workers.tasks import start_scheduled

JUNE = next_june()


class RecordingRedis:
    """The arq pool, forwarded to, with every enqueue recorded (the job ids arq would de-duplicate
    are not enough to show that only one worker enqueued)."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.calls: list[tuple[str, tuple[object, ...]]] = []

    async def enqueue_job(self, function: str, *args: object, **kwargs: Any) -> object:
        self.calls.append((function, args))
        return await self.pool.enqueue_job(function, *args, **kwargs)


def test_a_naive_time_is_paris_time_summer_and_winter() -> None:
    assert paris_to_utc(datetime(2026, 7, 1, 8, 0)) == datetime(2026, 7, 1, 6, 0, tzinfo=UTC)
    assert paris_to_utc(datetime(2026, 12, 1, 8, 0)) == datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
    aware = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert paris_to_utc(aware) == aware


async def scheduled_draft(
    client: httpx.AsyncClient,
    world: World,
    scheduled_at: str,
    key: str = "head_x",
    notice_org: int | None = None,
) -> httpx.Response:
    notice = await client.post(
        "/api/v1/notices",
        headers=auth(world.keys[key]),
        json={
            "organisation_id": notice_org or world.school_x,
            "title": "Sortie",
            "message": "Sortie demain.",
        },
    )
    return await client.post(
        "/api/v1/broadcasts",
        headers=auth(world.keys[key]),
        json={
            "notice_id": notice.json()["id"],
            "audience": {"organisation_ids": [world.school_x]},
            "channels": ["email"],
            "scheduled_at": scheduled_at,
        },
    )


async def schedule(client: httpx.AsyncClient, world: World, at: datetime) -> dict[str, Any]:
    """A broadcast to school X confirmed for ``at`` (a naive Paris time)."""
    created = await scheduled_draft(client, world, at.isoformat())
    assert created.status_code == 201, created.text
    confirmed = await client.post(
        f"/api/v1/broadcasts/{created.json()['id']}/confirm", headers=auth(world.keys["head_x"])
    )
    assert confirmed.status_code == 202, confirmed.text
    body: dict[str, Any] = confirmed.json()
    return body


def paris_in(delta: timedelta) -> datetime:
    """Naive Europe/Paris wall-clock time ``delta`` from now, as an operator would type it."""
    return (utcnow() + delta).astimezone(PARIS).replace(tzinfo=None)


async def make_due(factory: SessionFactory, broadcast_id: int) -> None:
    """Time passes: the broadcast's time is now a second ago."""
    async with transaction(factory) as session:
        await session.execute(
            update(Broadcast)
            .where(col(Broadcast.id) == broadcast_id)
            .values(scheduled_at=utcnow() - timedelta(seconds=1))
        )


async def audit_actions(factory: SessionFactory, broadcast_id: int) -> list[str]:
    async with transaction(factory) as session:
        rows = await session.execute(
            select(col(AuditEvent.action))
            .where(col(AuditEvent.object_type) == "broadcast")
            .where(col(AuditEvent.object_id) == broadcast_id)
            .order_by(col(AuditEvent.id))
        )
        return list(rows.scalars())


async def test_a_time_in_the_past_is_refused_in_french(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    async with api(settings) as client:
        refused = await scheduled_draft(client, world, "2020-09-01T08:00:00")
    assert refused.status_code == 422
    assert refused.json()["error"]["details"] == [
        {
            "field": "scheduled_at",
            "message": "l'heure programmée doit être à venir (heure de Paris si sans fuseau)",
        }
    ]


async def test_two_workers_running_the_scheduler_queue_a_due_broadcast_once(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 4))
    async with api(settings) as client:
        scheduled = await schedule(client, world, paris_in(timedelta(hours=2)))
    assert scheduled["status"] == "scheduled"
    assert scheduled["scheduled_at"].endswith("Z") or "+00:00" in scheduled["scheduled_at"]
    assert settings.redis_url is not None
    await run_burst_workers(settings)  # its cron pass at start-up finds nothing due
    assert sink.messages == []
    await make_due(factory, scheduled["id"])

    one = await Resources.open(settings, settings.redis_url)  # two worker processes' own
    two = await Resources.open(settings, settings.redis_url)  # engines and Redis pools
    recorders = [RecordingRedis(one.redis), RecordingRedis(two.redis)]
    one.queue, two.queue = recorders[0], recorders[1]
    try:
        started = await asyncio.gather(
            start_scheduled({"resources": one}), start_scheduled({"resources": two})
        )
    finally:
        await one.close()
        await two.close()
    assert sorted(started) == [0, 1]
    assert [call for r in recorders for call in r.calls] == [("fanout", (scheduled["id"],))]
    actions = await audit_actions(factory, scheduled["id"])
    assert actions.count("broadcast.scheduled_start") == 1
    await run_burst_workers(settings)
    assert sorted(m.to for m in sink.messages) == [f"parent{n}@familles.fr" for n in range(4)]


async def test_the_due_pass_from_two_sessions_at_once_changes_the_status_once(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 2))
    async with api(settings) as client:
        ids = [
            (await schedule(client, world, paris_in(timedelta(minutes=m))))["id"] for m in (5, 6)
        ]
    recorder = RecordingRedis(_NoRedis())
    later = utcnow() + timedelta(minutes=10)
    runs = await asyncio.gather(
        *(queue_due_broadcasts(factory, recorder, now=later) for _ in range(4))
    )
    assert sorted(i for run in runs for i in run) == sorted(ids)
    assert sorted(args[0] for _, args in recorder.calls) == sorted(ids)
    async with transaction(factory) as session:
        rows = (await session.execute(select(Broadcast).order_by(col(Broadcast.id)))).scalars()
        assert [(b.status, b.queued_at == later) for b in rows] == [("queued", True)] * 2


class _NoRedis:
    async def enqueue_job(self, function: str, *args: object, **kwargs: Any) -> None:
        return None


async def test_a_scheduled_broadcast_changes_time_until_it_starts_and_cancels(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 2))
    key = auth(world.keys["head_x"])
    async with api(settings) as client:
        first = await schedule(client, world, paris_in(timedelta(hours=2)))
        url = f"/api/v1/broadcasts/{first['id']}"
        moved = await client.patch(
            url, headers=key, json={"scheduled_at": f"{JUNE}-06-01T09:30:00"}
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["status"] == "scheduled"
        assert moved.json()["scheduled_at"].startswith(f"{JUNE}-06-01T07:30:00")  # summer in Paris
        past = await client.patch(url, headers=key, json={"scheduled_at": "2001-06-01T09:30:00"})
        assert past.status_code == 422
        wider = await client.patch(
            url, headers=key, json={"audience": {"organisation_ids": [world.school_y]}}
        )
        assert wider.status_code == 404  # school Y is outside head X's scope
        cancelled = await client.post(f"{url}/cancel", headers=key)
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        late = await client.patch(url, headers=key, json={"scheduled_at": f"{JUNE}-06-02T09:30:00"})
        assert late.status_code == 409

        second = await schedule(client, world, paris_in(timedelta(hours=2)))
        await make_due(factory, second["id"])
        await run_burst_workers(settings)  # the cron pass at start-up starts it
        url = f"/api/v1/broadcasts/{second['id']}"
        started = await client.patch(
            url, headers=key, json={"scheduled_at": f"{JUNE}-06-02T09:30:00"}
        )
        assert started.status_code == 409
        assert started.json()["error"]["message"].startswith("Cette diffusion est terminée")
    assert len(sink.messages) == 2
    assert await audit_actions(factory, first["id"]) == [
        "broadcast.send",
        "broadcast.change",
        "broadcast.cancel",
    ]
    assert (await audit_actions(factory, second["id"]))[-1] == "broadcast.scheduled_start"


async def test_a_new_audience_for_a_scheduled_broadcast_asks_for_approval_again(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 2))
    officer = auth(world.keys["officer"])
    async with api(settings) as client:
        at = paris_in(timedelta(hours=3)).isoformat()
        created = await scheduled_draft(client, world, at, "officer", world.academie)
        url = f"/api/v1/broadcasts/{created.json()['id']}"
        confirmed = await client.post(f"{url}/confirm", headers=officer)
        assert confirmed.json()["status"] == "scheduled"
        wider = await client.patch(
            url, headers=officer, json={"audience": {"organisation_ids": [world.dep67]}}
        )
        assert wider.status_code == 200, wider.text
        assert wider.json()["status"] == "pending_approval"
        approved = await client.post(f"{url}/approve", headers=auth(world.keys["admin"]))
        assert approved.status_code == 202 and approved.json()["status"] == "scheduled"


async def test_a_change_read_before_the_scheduler_started_it_is_refused_not_written(
    settings: Settings, factory: SessionFactory
) -> None:
    """The operator's request read the broadcast as scheduled; the scheduler starts it before
    the change is written: the change is refused (409) and the broadcast stays queued."""
    world = await build_world(factory)
    async with api(settings) as client:
        scheduled = await schedule(client, world, paris_in(timedelta(hours=1)))
    async with transaction(factory) as session:
        operator = await authenticate_api_key(session, world.keys["head_x"])
    async with factory() as session:
        stale = await session.get(Broadcast, scheduled["id"])
        assert stale is not None and stale.status == "scheduled"
        assert await claim_due(factory, scheduled["id"], utcnow() + timedelta(hours=2))
        patch = BroadcastPatch(scheduled_at=datetime(JUNE, 6, 1, 9, 30))
        with pytest.raises(Conflict, match="has just started"):
            await change_broadcast(session, operator, stale, patch, settings)
        await session.rollback()
    async with transaction(factory) as session:
        row = await session.get(Broadcast, scheduled["id"])
    assert row is not None and row.status == "queued"

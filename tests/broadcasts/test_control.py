"""Control in flight: pause, resume and cancel a broadcast that is sending, through the API,
with real burst workers, Redis, both databases and the SMTP sink."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlmodel import col

from broadcast.accounts.models import AuditEvent
from broadcast.broadcasts.planner import PlannerSettings, run_fanout
from broadcast.core.db import SessionFactory, transaction
from broadcast.deliveries.models import Delivery
from broadcast.jobs import DispatchBatch
from broadcast.ratelimit import RateLimit
from broadcast.sandbox.smtp import SmtpSink
from broadcast.settings import Settings
from tests.support import (
    add_contacts,
    api,
    auth,
    build_world,
    guardians,
    run_burst_workers,
    send_broadcast,
    wait_until,
)
from workers.resources import Resources


def rate_limited(settings: Settings, rate: float, burst: int) -> Settings:
    return settings.model_copy(
        update={
            "channel_rates": {"email": RateLimit(rate=rate, burst=burst)},
            "fanout_chunk_size": 1000,
            "dispatch_batch_size": 250,
        }
    )


async def read(client: httpx.AsyncClient, key: dict[str, str], broadcast_id: int) -> Any:
    response = await client.get(f"/api/v1/broadcasts/{broadcast_id}", headers=key)
    assert response.status_code == 200, response.text
    return response.json()


async def audit_actions(factory: SessionFactory) -> list[str]:
    async with transaction(factory) as session:
        rows = await session.execute(select(col(AuditEvent.action)).order_by(col(AuditEvent.id)))
        return [a for a in rows.scalars() if a.startswith("broadcast.")]


async def last_audit_details(factory: SessionFactory) -> Any:
    async with transaction(factory) as session:
        return await session.scalar(
            select(col(AuditEvent.details)).order_by(col(AuditEvent.id).desc()).limit(1)
        )


async def test_cancel_during_a_5000_recipient_rate_limited_send_stops_it_and_adds_up(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    limited = rate_limited(settings, rate=250, burst=10)
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 5000))
    key = auth(world.keys["head_x"])
    async with api(limited) as client:
        draft = await send_broadcast(
            client, world.keys["head_x"], world.school_x, {"organisation_ids": [world.school_x]}
        )
        workers = asyncio.create_task(run_burst_workers(limited))
        await wait_until(lambda: len(sink.messages) >= 300, timeout_s=60)
        cancelled = await client.post(f"/api/v1/broadcasts/{draft['id']}/cancel", headers=key)
        received_at_cancel = len(sink.messages)
        await workers
        final = await read(client, key, draft["id"])

    assert cancelled.status_code == 200, cancelled.text
    at_cancel = cancelled.json()["totals"]
    assert cancelled.json()["status"] == "cancelled"
    assert at_cancel["sent"] + at_cancel["sending"] + at_cancel["cancelled"] == 5000
    totals = final["totals"]
    assert final["status"] == "cancelled"
    assert totals["sent"] + totals["cancelled"] == 5000
    assert totals["queued"] == totals["sending"] == totals["failed"] == 0
    assert totals["sent"] == len(sink.messages) < 5000
    # After the cancel, only the messages already being sent went out.
    assert len(sink.messages) - received_at_cancel <= at_cancel["sending"]
    assert Counter(a for m in sink.messages for a in m.rcpt_tos).most_common(1)[0][1] == 1
    assert (await audit_actions(factory))[-1] == "broadcast.cancel"
    audited = (await last_audit_details(factory))["totals"]
    assert audited["cancelled"] == at_cancel["cancelled"] and sum(audited.values()) == 5000


async def test_pause_stops_sending_then_resume_completes_with_each_address_once(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    limited = rate_limited(settings, rate=200, burst=10)
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 1200))
    key = auth(world.keys["head_x"])
    async with api(limited) as client:
        draft = await send_broadcast(
            client, world.keys["head_x"], world.school_x, {"organisation_ids": [world.school_x]}
        )
        workers = asyncio.create_task(run_burst_workers(limited))
        await wait_until(lambda: len(sink.messages) >= 100, timeout_s=60)
        paused = await client.post(f"/api/v1/broadcasts/{draft['id']}/pause", headers=key)
        await workers  # every job ends once it sees the pause: the queues drain
        while_paused = await read(client, key, draft["id"])
        received_while_paused = len(sink.messages)

        resumed = await client.post(f"/api/v1/broadcasts/{draft['id']}/resume", headers=key)
        await run_burst_workers(limited)
        final = await read(client, key, draft["id"])

    assert paused.status_code == 200, paused.text
    assert paused.json()["status"] == "paused" and paused.json()["paused_at"]
    assert while_paused["status"] == "paused"
    assert while_paused["totals"]["sending"] == 0
    assert while_paused["totals"]["sent"] == received_while_paused < 1200
    assert while_paused["totals"]["queued"] + while_paused["totals"]["sent"] == 1200
    assert resumed.status_code == 202, resumed.text
    assert resumed.json()["status"] == "sending" and resumed.json()["paused_at"] is None
    assert final["status"] == "completed"
    assert final["totals"]["sent"] == 1200
    received = Counter(a for m in sink.messages for a in m.rcpt_tos)
    assert received == Counter({f"parent{n}@familles.fr": 1 for n in range(1200)})
    assert (await audit_actions(factory))[-2:] == ["broadcast.pause", "broadcast.resume"]
    assert (await last_audit_details(factory))["totals"]["queued"] > 0


async def test_pause_before_the_fan_out_then_resume_plans_and_sends_everything(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 90))
    key = auth(world.keys["head_x"])
    async with api(settings) as client:
        draft = await send_broadcast(
            client, world.keys["head_x"], world.school_x, {"organisation_ids": [world.school_x]}
        )
        await client.post(f"/api/v1/broadcasts/{draft['id']}/pause", headers=key)
        await run_burst_workers(settings)
        while_paused = await read(client, key, draft["id"])
        resumed = await client.post(f"/api/v1/broadcasts/{draft['id']}/resume", headers=key)
        await run_burst_workers(settings)
        final = await read(client, key, draft["id"])

    assert while_paused["status"] == "paused" and while_paused["totals"]["sent"] == 0
    assert resumed.json()["status"] == "queued"
    assert final["status"] == "completed" and final["totals"]["sent"] == 90
    assert len(sink.messages) == 90


class _NoQueue:
    async def enqueue_job(self, function: str, *args: object, **options: object) -> None:
        return None


async def test_a_delivery_sent_back_to_queued_after_the_cancel_ends_cancelled_unsent(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    """A transient failure recorded after the cancel puts its delivery back to ``queued``; the
    next dispatch job of the batch cancels it instead of sending it."""
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 3))
    key = auth(world.keys["head_x"])
    async with api(settings) as client:
        draft = await send_broadcast(
            client, world.keys["head_x"], world.school_x, {"organisation_ids": [world.school_x]}
        )
        planner = PlannerSettings(chunk_size=50, batch_size=40)
        await run_fanout(factory, _NoQueue(), planner, draft["id"])
        await client.post(f"/api/v1/broadcasts/{draft['id']}/cancel", headers=key)
        async with transaction(factory) as session:
            rows = await session.execute(select(col(Delivery.id)).order_by(col(Delivery.id)))
            ids = [int(i or 0) for i in rows.scalars()]
            await session.execute(
                update(Delivery).where(col(Delivery.id) == ids[0]).values(status="queued")
            )
        assert settings.redis_url is not None
        resources = await Resources.open(settings, settings.redis_url)
        try:
            await resources.dispatcher.run(DispatchBatch(draft["id"], "email", ids[0], ids[-1]))
        finally:
            await resources.close()
        final = await read(client, key, draft["id"])

    assert final["totals"]["cancelled"] == 3 and final["totals"]["queued"] == 0
    assert sink.messages == []


class _PausingQueue:
    """Plays the job queue for a fan-out run in the test: pauses the broadcast (through the API)
    when the first dispatch job is handed over, and keeps the jobs (never run)."""

    def __init__(self, client: httpx.AsyncClient, key: dict[str, str], broadcast_id: int) -> None:
        self.client, self.key, self.broadcast_id = client, key, broadcast_id
        self.jobs: list[object] = []

    async def enqueue_job(self, function: str, *args: object, **options: object) -> None:
        self.jobs.append((function, args))
        if len(self.jobs) == 1:  # the batches of a page are enqueued concurrently
            url = f"/api/v1/broadcasts/{self.broadcast_id}/pause"
            assert (await self.client.post(url, headers=self.key)).status_code == 200


async def test_a_pause_stops_the_fan_out_between_chunks_and_resume_plans_and_sends_the_rest(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 100))
    key = auth(world.keys["head_x"])
    async with api(settings) as client:
        draft = await send_broadcast(
            client, world.keys["head_x"], world.school_x, {"organisation_ids": [world.school_x]}
        )
        queue = _PausingQueue(client, key, draft["id"])
        planner = PlannerSettings(chunk_size=20, batch_size=10)
        await run_fanout(factory, queue, planner, draft["id"])
        while_paused = await read(client, key, draft["id"])
        resumed = await client.post(f"/api/v1/broadcasts/{draft['id']}/resume", headers=key)
        await run_burst_workers(settings)
        final = await read(client, key, draft["id"])

    assert while_paused["status"] == "paused"
    assert while_paused["totals"]["queued"] == 10  # the first chunk (one batch) planned, none sent
    assert resumed.status_code == 202 and resumed.json()["status"] == "sending"
    assert final["status"] == "completed" and final["totals"]["sent"] == 100
    received = Counter(a for m in sink.messages for a in m.rcpt_tos)
    assert received == Counter({f"parent{n}@familles.fr": 1 for n in range(100)})


async def test_pause_resume_and_cancel_refuse_the_wrong_state_in_french(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 3))
    key = auth(world.keys["head_x"])
    async with api(settings) as client:
        draft = await send_broadcast(
            client, world.keys["head_x"], world.school_x, {"organisation_ids": [world.school_x]}
        )
        not_paused = await client.post(f"/api/v1/broadcasts/{draft['id']}/resume", headers=key)
        await run_burst_workers(settings)
        done_pause = await client.post(f"/api/v1/broadcasts/{draft['id']}/pause", headers=key)
        done_cancel = await client.post(f"/api/v1/broadcasts/{draft['id']}/cancel", headers=key)
        viewer = await client.post(
            f"/api/v1/broadcasts/{draft['id']}/pause", headers=auth(world.keys["viewer_x"])
        )

    assert not_paused.status_code == 409
    assert "seule une diffusion suspendue peut reprendre" in not_paused.json()["error"]["message"]
    assert done_pause.status_code == 409
    assert "Cette diffusion est terminée" in done_pause.json()["error"]["message"]
    assert done_cancel.status_code == 409
    assert viewer.status_code == 403

"""Volume caps per scope (RULES A6, issue 5 item 3), through the API and real burst workers on
both databases: a send over a cap is refused with a clear French message before anything is
queued; caps count per organisation subtree, by hour and by day, and again at approval."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from pydantic import ValidationError
from sqlalchemy import func, select, update
from sqlmodel import col

from broadcast.broadcasts.models import Broadcast
from broadcast.core.db import SessionFactory, transaction
from broadcast.core.timeutil import utcnow
from broadcast.deliveries.models import Delivery
from broadcast.sandbox.smtp import SmtpSink
from broadcast.settings import Settings, VolumeCap
from tests.support import add_contacts, api, auth, build_world, guardians, run_burst_workers

NOTICE = {"title": "ENT indisponible", "message": "L'ENT est indisponible ce matin."}


def capped(settings: Settings, **caps: VolumeCap) -> Settings:
    return settings.model_copy(update={"volume_caps": caps})


async def draft(client: httpx.AsyncClient, key: str, notice_org: int, audience_org: int) -> int:
    """A notice and a draft broadcast by email to ``audience_org``; returns the draft's id."""
    notice = await client.post(
        "/api/v1/notices", headers=auth(key), json={"organisation_id": notice_org, **NOTICE}
    )
    created = await client.post(
        "/api/v1/broadcasts",
        headers=auth(key),
        json={
            "notice_id": notice.json()["id"],
            "audience": {"organisation_ids": [audience_org]},
            "channels": ["email"],
        },
    )
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


async def deliveries_of(factory: SessionFactory, broadcast_id: int) -> int:
    async with transaction(factory) as session:
        count = await session.scalar(
            select(func.count()).where(col(Delivery.broadcast_id) == broadcast_id)
        )
    return int(count or 0)


async def test_a_send_over_the_hourly_cap_is_refused_and_nothing_is_queued(
    settings: Settings, factory: SessionFactory, sink: SmtpSink, redis: aioredis.Redis
) -> None:
    settings = capped(settings, etablissement=VolumeCap(recipients_per_hour=5))
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 3))
    await add_contacts(factory, guardians(world.school_y, 3, start=100))
    head_x = world.keys["head_x"]
    async with api(settings) as client:
        first = await draft(client, head_x, world.school_x, world.school_x)
        second = await draft(client, head_x, world.school_x, world.school_x)
        accepted = await client.post(f"/api/v1/broadcasts/{first}/confirm", headers=auth(head_x))
        assert accepted.status_code == 202, accepted.text
        refused = await client.post(f"/api/v1/broadcasts/{second}/confirm", headers=auth(head_x))
        assert refused.status_code == 409
        error = refused.json()["error"]
        assert error["code"] == "cap_exceeded"
        assert error["message"].startswith(
            "Envoi refusé : plafond de 5 destinataires par heure atteint pour « Org 0670100"
        )
        assert "(3 déjà envoyés ou programmés, 3 demandés)" in error["message"]
        assert error["details"]["period"] == "hour" and error["details"]["limit"] == 5
        assert await redis.exists(f"arq:job:fanout:{first}")
        assert not await redis.exists(f"arq:job:fanout:{second}")  # nothing queued
        still = await client.get(f"/api/v1/broadcasts/{second}", headers=auth(head_x))
        assert still.json()["status"] == "draft"
        # The cap is school X's: school Y, in the same département, still sends.
        other = await draft(client, world.keys["head_y"], world.school_y, world.school_y)
        sent = await client.post(
            f"/api/v1/broadcasts/{other}/confirm", headers=auth(world.keys["head_y"])
        )
        assert sent.status_code == 202, sent.text
        await run_burst_workers(settings)
    assert await deliveries_of(factory, second) == 0
    assert len(sink.messages) == 6


async def test_the_day_cap_counts_what_left_earlier_today_and_not_cancelled_sends(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    settings = capped(settings, academie=VolumeCap(recipients_per_hour=100, recipients_per_day=5))
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 3))
    key = world.keys["head_x"]
    async with api(settings) as client:
        ids = [await draft(client, key, world.school_x, world.school_x) for _ in range(2)]
        first = await client.post(f"/api/v1/broadcasts/{ids[0]}/confirm", headers=auth(key))
        assert first.status_code == 202, first.text
        async with transaction(factory) as session:  # it left three hours ago
            await session.execute(
                update(Broadcast)
                .where(col(Broadcast.id) == ids[0])
                .values(queued_at=utcnow() - timedelta(hours=3))
            )
        refused = await client.post(f"/api/v1/broadcasts/{ids[1]}/confirm", headers=auth(key))
        assert refused.status_code == 409
        assert (
            "plafond de 5 destinataires par jour atteint pour « Org STRAS »"
            in (refused.json()["error"]["message"])
        )
        cancelled = await client.post(f"/api/v1/broadcasts/{ids[0]}/cancel", headers=auth(key))
        assert cancelled.status_code == 200, cancelled.text
        again = await client.post(f"/api/v1/broadcasts/{ids[1]}/confirm", headers=auth(key))
        assert again.status_code == 202, again.text


async def test_caps_are_checked_again_when_a_pending_send_is_approved(
    settings: Settings, factory: SessionFactory, sink: SmtpSink, redis: aioredis.Redis
) -> None:
    """Pending approvals do not count; what left while one waited does, at approval."""
    settings = capped(settings, academie=VolumeCap(recipients_per_hour=5))
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 3))
    officer, head_x = world.keys["officer"], world.keys["head_x"]
    async with api(settings) as client:
        wide = await draft(client, officer, world.academie, world.academie)
        confirmed = await client.post(f"/api/v1/broadcasts/{wide}/confirm", headers=auth(officer))
        assert confirmed.json()["status"] == "pending_approval"
        local = await draft(client, head_x, world.school_x, world.school_x)
        sent = await client.post(f"/api/v1/broadcasts/{local}/confirm", headers=auth(head_x))
        assert sent.status_code == 202
        approval = await client.post(
            f"/api/v1/broadcasts/{wide}/approve", headers=auth(world.keys["admin"])
        )
        assert approval.status_code == 409
        assert approval.json()["error"]["code"] == "cap_exceeded"
        pending = await client.get(f"/api/v1/broadcasts/{wide}", headers=auth(officer))
        assert pending.json()["status"] == "pending_approval"
    assert not await redis.exists(f"arq:job:fanout:{wide}")


def test_settings_name_only_known_organisation_kinds_and_a_scheduler_tick_dividing_a_minute(
    tmp_path: Path,
) -> None:
    with pytest.raises(ValidationError, match="unknown organisation kinds: \\['ecole'\\]"):
        Settings(env="dev", var_dir=tmp_path, volume_caps={"ecole": VolumeCap()})
    with pytest.raises(ValidationError, match="scheduler_interval_s must divide 60"):
        Settings(env="dev", var_dir=tmp_path, scheduler_interval_s=7)
    assert Settings(env="dev", var_dir=tmp_path, scheduler_interval_s=15).scheduler_interval_s == 15

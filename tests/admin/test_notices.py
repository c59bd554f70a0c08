"""Notices through the API: create, update, change status, read with every update."""

from __future__ import annotations

from sqlalchemy import select

from broadcast.accounts.models import AuditEvent
from broadcast.core.db import SessionFactory, transaction
from broadcast.settings import Settings
from tests.support import api, auth, build_world


async def test_notice_lifecycle(settings: Settings, factory: SessionFactory) -> None:
    world = await build_world(factory)
    key = auth(world.keys["officer"])
    async with api(settings) as client:
        created = await client.post(
            "/api/v1/notices",
            headers=key,
            json={
                "organisation_id": world.academie,
                "title": "ENT inaccessible",
                "message": "L'ENT est inaccessible dans toute l'académie.",
            },
        )
        notice_id = created.json()["id"]
        update = await client.post(
            f"/api/v1/notices/{notice_id}/updates",
            headers=key,
            json={"status": "identified", "message": "Panne chez l'hébergeur."},
        )
        status = await client.post(
            f"/api/v1/notices/{notice_id}/status", headers=key, json={"status": "resolved"}
        )
        read = await client.get(f"/api/v1/notices/{notice_id}", headers=key)
        bad = await client.post(
            f"/api/v1/notices/{notice_id}/status", headers=key, json={"status": "fini"}
        )
    assert created.status_code == 201
    assert created.json()["status"] == "investigating"
    assert update.status_code == 201
    assert status.json()["status"] == "resolved"
    assert [u["status"] for u in read.json()["updates"]] == ["investigating", "identified"]
    assert bad.status_code == 422
    async with transaction(factory) as session:
        actions = (await session.execute(select(AuditEvent.action))).scalars().all()
    assert actions == ["notice.create", "notice.update", "notice.status"]


async def test_a_head_teacher_cannot_open_a_notice_for_the_academie(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    async with api(settings) as client:
        response = await client.post(
            "/api/v1/notices",
            headers=auth(world.keys["head_x"]),
            json={"organisation_id": world.academie, "title": "Panne", "message": "Panne"},
        )
    assert response.status_code == 404

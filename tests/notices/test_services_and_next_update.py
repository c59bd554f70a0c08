"""Notices name the services concerned (built-in or added by settings) and the time of the
next update the author commits to; an update replaces that commitment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from broadcast.core.db import SessionFactory
from broadcast.settings import ServiceLabels, Settings
from tests.support import api, auth, build_world


def _tomorrow_at(hour: int, minute: int) -> datetime:
    day = datetime.now(ZoneInfo("Europe/Paris")).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, minute)


async def test_services_and_next_update_round_trip(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    key = auth(world.keys["head_x"])
    next_update = _tomorrow_at(10, 30)  # naive: Europe/Paris
    async with api(settings) as client:
        created = await client.post(
            "/api/v1/notices",
            headers=key,
            json={
                "organisation_id": world.school_x,
                "title": "ENT et messagerie indisponibles",
                "message": "L'ENT et la messagerie sont indisponibles.",
                "public": True,
                "services": ["ent", "messagerie", "ent"],
                "next_update_at": next_update.isoformat(),
            },
        )
        notice_id = created.json()["id"]
        update = await client.post(
            f"/api/v1/notices/{notice_id}/updates",
            headers=key,
            json={"status": "identified", "message": "Panne identifiée.", "services": ["ent"]},
        )
        read = await client.get(f"/api/v1/notices/{notice_id}", headers=key)
        services = await client.get("/api/v1/notices/services", headers=key)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["services"] == ["ent", "messagerie"]
    expected = next_update.replace(tzinfo=ZoneInfo("Europe/Paris")).astimezone(UTC)
    assert datetime.fromisoformat(body["next_update_at"]) == expected
    assert update.status_code == 201
    assert read.json()["services"] == ["ent"]
    assert read.json()["next_update_at"] is None  # the update made no new commitment
    assert {"code": "vie_scolaire", "label": "Vie scolaire"} in services.json()


async def test_unknown_service_and_past_next_update_are_refused_in_french(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    key = auth(world.keys["head_x"])
    notice = {"organisation_id": world.school_x, "title": "Panne", "message": "Panne."}
    async with api(settings) as client:
        unknown = await client.post(
            "/api/v1/notices", headers=key, json={**notice, "services": ["cantine"]}
        )
        past = await client.post(
            "/api/v1/notices",
            headers=key,
            json={**notice, "next_update_at": "2020-01-01T10:30:00"},
        )
    assert unknown.status_code == 422
    assert unknown.json()["error"]["message"].startswith("Service inconnu : cantine.")
    assert past.status_code == 422
    assert "doit être à venir" in past.text


async def test_settings_add_services_and_patch_publishes(
    settings: Settings, factory: SessionFactory
) -> None:
    settings = settings.model_copy(
        update={"extra_notice_services": {"cantine": ServiceLabels(fr="Réservation cantine")}}
    )
    world = await build_world(factory)
    key = auth(world.keys["head_x"])
    async with api(settings) as client:
        created = await client.post(
            "/api/v1/notices",
            headers=key,
            json={
                "organisation_id": world.school_x,
                "title": "Cantine",
                "message": "La réservation est fermée.",
                "services": ["cantine"],
            },
        )
        notice_id = created.json()["id"]
        patched = await client.patch(
            f"/api/v1/notices/{notice_id}", headers=key, json={"public": True}
        )
    assert created.status_code == 201, created.text
    assert patched.json()["public"] is True
    assert patched.json()["services"] == ["cantine"]

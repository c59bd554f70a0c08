"""RULES D6: a creation replayed with its Idempotency-Key gets the first response, once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlmodel import SQLModel

from broadcast.accounts.idempotency import IdempotencyRecord, purge_expired
from broadcast.core.db import SessionFactory, transaction
from broadcast.core.timeutil import utcnow
from broadcast.directory.models import Contact
from broadcast.notices.models import Notice
from broadcast.settings import Settings
from tests.support import World, api, auth, build_world


async def _count(factory: SessionFactory, model: type[SQLModel]) -> int:
    async with transaction(factory) as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def _notice(world: World, title: str = "ENT inaccessible") -> dict[str, Any]:
    return {"organisation_id": world.academie, "title": title, "message": "L'ENT est en panne."}


def _headers(world: World, operator: str, key: str) -> dict[str, str]:
    return {**auth(world.keys[operator]), "Idempotency-Key": key}


async def test_same_key_and_body_returns_the_first_response_and_creates_once(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    headers = _headers(world, "officer", "notice-1")
    async with api(settings) as client:
        first = await client.post("/api/v1/notices", headers=headers, json=_notice(world))
        again = await client.post("/api/v1/notices", headers=headers, json=_notice(world))
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert await _count(factory, Notice) == 1


async def test_same_key_with_another_body_is_422_in_french_or_english(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    headers = _headers(world, "officer", "notice-1")
    async with api(settings) as client:
        first = await client.post("/api/v1/notices", headers=headers, json=_notice(world))
        other = _notice(world, "Autre titre")
        french = await client.post("/api/v1/notices", headers=headers, json=other)
        english = await client.post(
            "/api/v1/notices", headers={**headers, "Accept-Language": "en"}, json=other
        )
    assert first.status_code == 201
    assert french.status_code == 422
    assert french.json()["error"] == {
        "code": "idempotency_key_reused",
        "message": "Cette clé d'idempotence a déjà servi pour une autre requête.",
        "details": None,
    }
    assert english.json()["error"]["message"].startswith("This idempotency key was already used")
    assert await _count(factory, Notice) == 1


async def test_a_key_is_scoped_to_the_callers_api_key(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    async with api(settings) as client:
        officer = await client.post(
            "/api/v1/notices", headers=_headers(world, "officer", "k"), json=_notice(world)
        )
        admin = await client.post(
            "/api/v1/notices", headers=_headers(world, "admin", "k"), json=_notice(world)
        )
    assert (officer.status_code, admin.status_code) == (201, 201)
    assert officer.json()["id"] != admin.json()["id"]
    assert await _count(factory, Notice) == 2


async def test_a_replayed_bulk_call_creates_the_contacts_once(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    rows = [
        {"organisation_id": world.school_x, "role": "guardian", "email": f"p{n}@familles.fr"}
        for n in range(3)
    ]
    headers = _headers(world, "head_x", "import-2026-11-28")
    async with api(settings) as client:
        first = await client.post("/api/v1/contacts/bulk", headers=headers, json={"contacts": rows})
        again = await client.post("/api/v1/contacts/bulk", headers=headers, json={"contacts": rows})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert await _count(factory, Contact) == 3


async def test_without_the_header_each_call_creates(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    headers = auth(world.keys["officer"])
    async with api(settings) as client:
        first = await client.post("/api/v1/notices", headers=headers, json=_notice(world))
        second = await client.post("/api/v1/notices", headers=headers, json=_notice(world))
    assert (first.status_code, second.status_code) == (201, 201)
    assert await _count(factory, Notice) == 2


async def test_a_key_longer_than_255_characters_is_refused(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    async with api(settings) as client:
        response = await client.post(
            "/api/v1/notices", headers=_headers(world, "officer", "k" * 256), json=_notice(world)
        )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_input"
    assert await _count(factory, Notice) == 0


async def test_keys_are_forgotten_after_a_day(settings: Settings, factory: SessionFactory) -> None:
    world = await build_world(factory)
    async with api(settings) as client:
        for key in ("old", "recent"):
            await client.post(
                "/api/v1/notices", headers=_headers(world, "officer", key), json=_notice(world)
            )
    async with transaction(factory) as session:
        old = await session.scalar(select(IdempotencyRecord).where(IdempotencyRecord.key == "old"))
        assert old is not None
        old.created_at = utcnow() - timedelta(hours=25)
    async with transaction(factory) as session:
        assert await purge_expired(session) == 1
    async with transaction(factory) as session:
        keys = (await session.execute(select(IdempotencyRecord.key))).scalars().all()
    assert keys == ["recent"]

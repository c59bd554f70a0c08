"""Factories and runners shared by the tests: a seeded académie, API clients, burst workers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
from sqlalchemy import select
from sqlmodel import col

from admin.app import create_app
from broadcast.accounts.models import Operator, Role
from broadcast.accounts.service import Principal, create_api_key, create_operator, principal_for
from broadcast.core.db import SessionFactory, transaction
from broadcast.directory.models import ContactRole, Organisation, OrganisationKind
from broadcast.directory.schemas import ContactIn
from broadcast.directory.service import create_organisation, insert_contacts
from broadcast.directory.uai import make_uai
from broadcast.jobs import QUEUES
from broadcast.settings import Settings
from workers.main import build_workers
from workers.resources import Resources


@dataclass
class World:
    """Région > académie > départements 67 and 68 > schools X, Y (67) and Z (68)."""

    region: int
    academie: int
    dep67: int
    dep68: int
    school_x: int
    school_y: int
    school_z: int
    keys: dict[str, str] = field(default_factory=dict)


async def _org(
    session: Any,
    kind: OrganisationKind,
    code: str,
    parent: Organisation | None,
    school_type: str | None = None,
) -> Organisation:
    return await create_organisation(
        session, kind=kind, code=code, name=f"Org {code}", parent=parent, school_type=school_type
    )


async def build_world(factory: SessionFactory) -> World:
    async with transaction(factory) as session:
        region = await _org(session, OrganisationKind.region_academique, "GE", None)
        academie = await _org(session, OrganisationKind.academie, "STRAS", region)
        dep67 = await _org(session, OrganisationKind.departement, "67", academie)
        dep68 = await _org(session, OrganisationKind.departement, "68", academie)
        x = await _org(
            session, OrganisationKind.etablissement, make_uai("0670100"), dep67, "college"
        )
        y = await _org(session, OrganisationKind.etablissement, make_uai("0670200"), dep67, "lycee")
        z = await _org(
            session, OrganisationKind.etablissement, make_uai("0680300"), dep68, "college"
        )
        world = World(
            region.id or 0,
            academie.id or 0,
            dep67.id or 0,
            dep68.id or 0,
            x.id or 0,
            y.id or 0,
            z.id or 0,
        )
        for name, role, org in (
            ("admin", Role.platform_admin, region),
            ("officer", Role.academie_officer, academie),
            ("head_x", Role.head_teacher, x),
            ("head_y", Role.head_teacher, y),
            ("viewer_x", Role.viewer, x),
        ):
            operator = await create_operator(
                session, email=f"{name}@test.fr", display_name=name, role=role, organisation=org
            )
            _, world.keys[name] = await create_api_key(session, operator, "test")
    return world


async def operator_principal(factory: SessionFactory, name: str) -> Principal:
    """The principal of one of the world's operators (``admin``, ``officer``, ``head_x``,
    ``head_y``, ``viewer_x``), acting without an API key as a service call does."""
    async with factory() as session:
        operator = await session.scalar(
            select(Operator).where(col(Operator.email) == f"{name}@test.fr")
        )
        assert operator is not None, name
        organisation = await session.get(Organisation, operator.organisation_id)
        assert organisation is not None
        return principal_for(operator, organisation)


def guardians(
    school_id: int, count: int, *, start: int = 0, level: str = "6e", domain: str = "familles.fr"
) -> list[ContactIn]:
    return [
        ContactIn(
            organisation_id=school_id,
            first_name="P",
            last_name=f"G{n}",
            role=ContactRole.guardian,
            level=level,
            division=f"{level} A",
            email=f"parent{n}@{domain}",
        )
        for n in range(start, start + count)
    ]


async def add_contacts(factory: SessionFactory, rows: list[ContactIn]) -> list[int]:
    async with transaction(factory) as session:
        return await insert_contacts(session, rows)


@asynccontextmanager
async def api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The real app, its lifespan run, reached in-process through httpx."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


def next_june() -> int:
    """The year of the next 1st of June: a summer date (UTC+2 in Paris) less than a year ahead,
    as far as a broadcast may be scheduled."""
    today = date.today()
    return today.year + (1 if (today.month, today.day) >= (6, 1) else 0)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def run_burst_workers(settings: Settings, queues: tuple[str, ...] = QUEUES) -> None:
    """Real arq workers, in burst mode: they return once their queues are drained. A worker
    whose queue is empty stops at once, so they run again while a job of one queue left work in
    another (a broadcast completed by a dispatch job queues its webhooks)."""
    assert settings.redis_url is not None
    resources = await Resources.open(settings, settings.redis_url)
    try:
        for _ in range(10):
            await _burst(resources, settings.redis_url, queues)
            if not await _queued(resources, queues):
                return
        raise AssertionError("jobs still queued after ten bursts")
    finally:
        await resources.close()


async def _burst(resources: Resources, redis_url: str, queues: tuple[str, ...]) -> None:
    workers = build_workers(resources, redis_url, queues, burst=True)
    try:
        await asyncio.wait_for(asyncio.gather(*(w.async_run() for w in workers)), timeout=120)
    finally:
        for worker in workers:
            await worker.close()


async def _queued(resources: Resources, queues: tuple[str, ...]) -> int:
    return sum([int(await resources.redis.zcard(queue)) for queue in queues])


async def wait_until(predicate: Callable[[], bool], timeout_s: float) -> None:
    """Poll a condition of the outside world (messages received by a sink) until it holds."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def bulk_then_urgent(
    client: httpx.AsyncClient, factory: SessionFactory, world: World, bulk_guardians: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A bulk send to ``bulk_guardians`` families of school X, then an urgent one to the five of
    school Z (addresses at urgence.fr), both confirmed by the officer; their drafts."""
    await add_contacts(factory, guardians(world.school_x, bulk_guardians))
    await add_contacts(factory, guardians(world.school_z, 5, domain="urgence.fr"))
    officer = world.keys["officer"]
    bulk = await send_broadcast(
        client, officer, world.academie, {"organisation_ids": [world.school_x]}
    )
    urgent = await send_broadcast(
        client, officer, world.academie, {"organisation_ids": [world.school_z]}, priority="urgent"
    )
    return bulk, urgent


async def send_broadcast(
    client: httpx.AsyncClient,
    key: str,
    notice_org: int,
    audience: dict[str, Any],
    channels: list[str] | None = None,
    priority: str = "normal",
    *,
    public: bool = False,
) -> dict[str, Any]:
    """Create a notice, a draft broadcast and confirm it; returns the draft with its preview."""
    notice = await client.post(
        "/api/v1/notices",
        headers=auth(key),
        json={
            "organisation_id": notice_org,
            "title": "ENT indisponible",
            "message": "L'ENT est indisponible ce matin. Les cours ont lieu normalement.",
            "public": public,
        },
    )
    assert notice.status_code == 201, notice.text
    draft = await client.post(
        "/api/v1/broadcasts",
        headers=auth(key),
        json={
            "notice_id": notice.json()["id"],
            "audience": audience,
            "channels": channels or ["email"],
            "priority": priority,
        },
    )
    assert draft.status_code == 201, draft.text
    confirmed = await client.post(
        f"/api/v1/broadcasts/{draft.json()['id']}/confirm", headers=auth(key)
    )
    assert confirmed.status_code == 202, confirmed.text
    body: dict[str, Any] = draft.json()
    return body

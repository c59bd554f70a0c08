"""The live progress's fast path (:class:`admin.console.sends.ProgressFastPath`), through the
real app on both databases: it answers what the route answered, keeps the scope (RULES A1:
another school's send is 404, even once its progress is in memory), and refuses a session
closed elsewhere within the cache's seconds, one signed out here or past its timeout at once,
and shows a change of the send within a second."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import update
from sqlmodel import col

from admin.app import create_app
from broadcast.accounts.models import ConsoleSession, Operator
from broadcast.accounts.session_cache import FRESH_FOR_S, SessionCache
from broadcast.accounts.signin import ABSOLUTE_TIMEOUT, close_all_sessions
from broadcast.broadcasts.live_progress import FRESH_FOR_S as PROGRESS_FRESH_FOR_S
from broadcast.broadcasts.live_progress import LiveProgress
from broadcast.broadcasts.models import Broadcast, BroadcastStatus
from broadcast.core.db import SessionFactory, transaction
from broadcast.core.timeutil import utcnow
from broadcast.sandbox.smtp import SmtpSink
from broadcast.settings import Settings
from tests.console.console_support import csrf_of, give_password, sign_in
from tests.support import World, add_contacts, build_world, guardians, send_broadcast


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def _signed_in(client: httpx.AsyncClient, factory: SessionFactory, email: str) -> None:
    credentials = await give_password(factory, email, with_totp=email.startswith("officer"))
    assert (await sign_in(client, credentials)).status_code == 303


async def _school_x_send(app: FastAPI, world: World) -> int:
    async with browser(app) as client:
        draft = await send_broadcast(
            client, world.keys["head_x"], world.school_x, {"organisation_ids": [world.school_x]}
        )
    return int(draft["id"])


async def _operator_id(factory: SessionFactory, email: str) -> int:
    async with factory() as session:
        operator = (
            (await session.execute(Operator.__table__.select().where(col(Operator.email) == email)))
            .mappings()
            .one()
        )
        return int(operator["id"])


def _to_sign_in(answer: httpx.Response) -> bool:
    return answer.status_code == 303 and answer.headers["location"].startswith("/console/connexion")


async def test_another_schools_send_is_404_even_once_its_progress_is_in_memory(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 3))
    async with running(settings) as app:
        broadcast_id = await _school_x_send(app, world)
        path = f"/console/envois/{broadcast_id}/progression"
        async with browser(app) as head_x, browser(app) as head_y, browser(app) as nobody:
            await _signed_in(head_x, factory, "head_x@test.fr")
            await _signed_in(head_y, factory, "head_y@test.fr")
            mine = await head_x.get(path)
            assert mine.status_code == 200 and mine.headers["cache-control"] == "no-store"
            assert mine.json()["final"] is False and "0 / 0 (0 %)" in mine.json()["html"]
            assert "x-content-type-options" in mine.headers  # inside the security headers
            again = await head_x.get(path)  # from memory now: the same answer
            assert again.json() == mine.json()
            for _ in range(3):
                theirs = await head_y.get(path)
                assert theirs.status_code == 404
                assert "ENT indisponible" not in theirs.text and "progress-list" not in theirs.text
            assert (await head_x.get("/console/envois/999999/progression")).status_code == 404
            huge = await head_x.get("/console/envois/99999999999/progression")
            assert huge.status_code in (404, 422) and "progress-list" not in huge.text
            assert _to_sign_in(await nobody.get(path))
            nobody.cookies.set("bc_session", "not-a-session", path="/console")
            assert _to_sign_in(await nobody.get(path))


async def test_a_session_closed_elsewhere_is_refused_within_the_caches_seconds(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 2))
    async with running(settings) as app:
        clock = Clock()
        app.state.console_sessions = SessionCache(clock=clock)
        broadcast_id = await _school_x_send(app, world)
        path = f"/console/envois/{broadcast_id}/progression"
        async with browser(app) as client:
            await _signed_in(client, factory, "head_x@test.fr")
            assert (await client.get(path)).status_code == 200
            head_x = await _operator_id(factory, "head_x@test.fr")
            async with transaction(factory) as session:  # another process signs him out
                await close_all_sessions(session, head_x)
            clock.now += FRESH_FOR_S / 2
            assert (await client.get(path)).status_code == 200  # remembered, for a moment
            clock.now += FRESH_FOR_S / 2
            assert _to_sign_in(await client.get(path))
            assert _to_sign_in(await client.get(path))


async def test_a_session_signed_out_here_is_refused_at_once(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 2))
    async with running(settings) as app:
        app.state.console_sessions = SessionCache(clock=Clock())  # time stands still
        broadcast_id = await _school_x_send(app, world)
        path = f"/console/envois/{broadcast_id}/progression"
        async with browser(app) as client:
            await _signed_in(client, factory, "head_x@test.fr")
            assert (await client.get(path)).status_code == 200
            cookie = client.cookies["bc_session"]
            token = csrf_of(await client.get("/console/"))
            answer = await client.post("/console/deconnexion", data={"csrf": token})
            assert answer.status_code == 303
            client.cookies.set("bc_session", cookie, path="/console")  # a copy kept elsewhere
            assert _to_sign_in(await client.get(path))


async def test_a_session_past_its_timeout_is_refused_at_once(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 2))
    async with running(settings) as app:
        app.state.console_sessions = SessionCache(clock=Clock())  # time stands still
        broadcast_id = await _school_x_send(app, world)
        path = f"/console/envois/{broadcast_id}/progression"
        async with browser(app) as client:
            await _signed_in(client, factory, "head_x@test.fr")
            head_x = await _operator_id(factory, "head_x@test.fr")
            almost = utcnow() - ABSOLUTE_TIMEOUT + timedelta(seconds=1)
            async with transaction(factory) as session:
                await session.execute(
                    update(ConsoleSession)
                    .where(col(ConsoleSession.operator_id) == head_x)
                    .values(created_at=almost)
                )
            assert (await client.get(path)).status_code == 200
            await asyncio.sleep(1.2)
            assert _to_sign_in(await client.get(path))


async def test_a_change_of_the_send_shows_within_a_second(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 2))
    async with running(settings) as app:
        clock = Clock()
        app.state.live_progress = LiveProgress(app.state.live_counts, clock=clock)
        broadcast_id = await _school_x_send(app, world)
        path = f"/console/envois/{broadcast_id}/progression"
        async with browser(app) as client:
            await _signed_in(client, factory, "head_x@test.fr")
            before = (await client.get(path)).json()
            assert before["status"] == "queued" and "Suspendre" in before["controls"]
            async with transaction(factory) as session:  # a worker or another process
                await session.execute(
                    update(Broadcast)
                    .where(col(Broadcast.id) == broadcast_id)
                    .values(status=BroadcastStatus.paused)
                )
            assert (await client.get(path)).json()["status"] == "queued"  # the same second
            clock.now += PROGRESS_FRESH_FOR_S
            after = (await client.get(path)).json()
            assert after["status"] == "paused" and after["status_label"] == "En pause"
            assert "Reprendre" in after["controls"] and "Suspendre" not in after["controls"]

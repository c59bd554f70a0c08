"""The request boundary: a route's jobs reach arq (a real Redis) once its transaction commits,
and never when the route fails after asking for them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool
from fastapi import FastAPI
from sqlalchemy import select
from sqlmodel import col

from admin.app import create_app
from admin.deps import UowDep
from broadcast.core.db import SessionFactory, transaction
from broadcast.core.errors import Conflict
from broadcast.directory.models import Organisation, OrganisationKind
from broadcast.jobs import BULK_QUEUE, fanout_job
from broadcast.settings import Settings


def _app_with_test_routes(settings: Settings) -> FastAPI:
    app = create_app(settings)

    async def commits(uow: UowDep) -> dict[str, bool]:
        uow.session.add(_academie("NANCY"))
        uow.enqueue(fanout_job(11, "normal"))
        return {"ok": True}

    async def fails(uow: UowDep) -> dict[str, bool]:
        uow.session.add(_academie("LILLE"))
        uow.enqueue(fanout_job(12, "normal"))
        await uow.session.flush()
        raise Conflict("Refusé après la demande.", "Refused after the request.")

    app.add_api_route("/test/commits", commits, methods=["POST"])
    app.add_api_route("/test/fails", fails, methods=["POST"])
    return app


def _academie(code: str) -> Organisation:
    name = f"Académie {code}"
    return Organisation(kind=OrganisationKind.academie, code=code, name=name, path="/")


@pytest.fixture
async def client(settings: Settings, factory: SessionFactory) -> AsyncIterator[httpx.AsyncClient]:
    app = _app_with_test_routes(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[ArqRedis]:
    redis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    yield redis
    await redis.aclose()


async def _queued_ids(pool: ArqRedis) -> list[str]:
    return sorted(job.job_id or "" for job in await pool.queued_jobs(queue_name=BULK_QUEUE))


async def _codes(factory: SessionFactory) -> list[str]:
    async with transaction(factory) as session:
        return list((await session.execute(select(col(Organisation.code)))).scalars())


async def test_a_route_that_commits_enqueues_its_job_exactly_once(
    client: httpx.AsyncClient, pool: ArqRedis, factory: SessionFactory
) -> None:
    assert (await client.post("/test/commits")).status_code == 200
    assert await _queued_ids(pool) == ["fanout:11"]
    assert await _codes(factory) == ["NANCY"]


async def test_a_route_that_fails_after_asking_for_a_job_enqueues_nothing(
    client: httpx.AsyncClient, pool: ArqRedis, factory: SessionFactory
) -> None:
    answer = await client.post("/test/fails")
    assert answer.status_code == 409
    assert answer.json()["error"]["message"] == "Refusé après la demande."
    assert await _queued_ids(pool) == []
    assert await _codes(factory) == []

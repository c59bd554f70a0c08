"""Probes and metrics for the people who run the service: /livez, /readyz, /metrics."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from admin.deps import SettingsDep
from broadcast.core.errors import Unauthenticated
from broadcast.core.metrics import exposition, observe_queues
from broadcast.jobs import QUEUES

router = APIRouter(tags=["operations"], include_in_schema=False)

PROBE_TIMEOUT_S = 2.0


@router.get("/livez")
async def live() -> dict[str, str]:
    """The process answers: no database, no Redis (a restart would not help them)."""
    return {"status": "ok"}


@router.get("/readyz")
async def ready(request: Request) -> JSONResponse:
    """503 while the database or Redis does not answer, so the balancer sends elsewhere."""
    checks = {
        "database": await _answers(_database_answers(request)),
        "redis": await _answers(request.app.state.redis.ping()),
    }
    down = [name for name, ok in checks.items() if not ok]
    body: dict[str, object] = {"status": "ok" if not down else "unavailable", "checks": checks}
    if down:
        body["message"] = _unavailable_message(down)
    return JSONResponse(body, status_code=503 if down else 200)


@router.get("/metrics")
async def metrics(request: Request, settings: SettingsDep) -> Response:
    token = settings.metrics_token
    if token is not None:
        given = request.headers.get("authorization", "").removeprefix("Bearer ")
        if not secrets.compare_digest(given.encode(), token.get_secret_value().encode()):
            raise Unauthenticated()
    # While Redis does not answer, the queue gauges keep their last values.
    await _answers(observe_queues(request.app.state.redis, QUEUES))
    body, content_type = exposition()
    return Response(body, media_type=content_type)


async def _database_answers(request: Request) -> None:
    async with request.app.state.session_factory() as session:
        await session.execute(text("SELECT 1"))


async def _answers(probe: Awaitable[object]) -> bool:
    try:
        await asyncio.wait_for(probe, PROBE_TIMEOUT_S)
    except Exception:
        return False
    return True


def _unavailable_message(down: list[str]) -> str:
    names = {"database": "la base de données", "redis": "Redis"}
    verb = "ne répond pas" if len(down) == 1 else "ne répondent pas"
    return f"Service indisponible : {' et '.join(names[name] for name in down)} {verb}."

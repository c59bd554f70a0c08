"""Notices for the status page tests, created through the API as an operator would; the app
served by a real uvicorn server for the browser tests."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import uvicorn

from admin.app import create_app
from broadcast.settings import Settings
from tests.support import auth


async def post_notice(
    client: httpx.AsyncClient, key: str, organisation_id: int, title: str, **fields: Any
) -> dict[str, Any]:
    body = {
        "organisation_id": organisation_id,
        "title": title,
        "message": fields.pop("message", f"{title} : nous cherchons la cause."),
        "public": fields.pop("public", True),
        **fields,
    }
    answer = await client.post("/api/v1/notices", headers=auth(key), json=body)
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


async def post_update(
    client: httpx.AsyncClient, key: str, notice_id: int, status: str, message: str, **fields: Any
) -> None:
    answer = await client.post(
        f"/api/v1/notices/{notice_id}/updates",
        headers=auth(key),
        json={"status": status, "message": message, **fields},
    )
    assert answer.status_code == 201, answer.text


@asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[str]:
    """The app in a real uvicorn server on a free loopback port; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), "uvicorn did not start"
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task

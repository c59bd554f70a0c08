"""Notices for the status page tests, created through the API as an operator would."""

from __future__ import annotations

from typing import Any

import httpx

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

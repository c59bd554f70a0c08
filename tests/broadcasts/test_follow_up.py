"""Follow-ups: "résolu" reaches exactly the addresses the first broadcast planned, as they were
then, even after the directory changed in between; suppressions still apply."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
from sqlalchemy import delete, select, update
from sqlmodel import col

from broadcast.core.db import SessionFactory, transaction
from broadcast.deliveries.models import Delivery
from broadcast.directory.models import Contact, ContactPoint
from broadcast.directory.service import suppress
from broadcast.sandbox.smtp import CapturedMessage, SmtpSink
from broadcast.settings import Settings
from tests.support import (
    add_contacts,
    api,
    auth,
    build_world,
    guardians,
    run_burst_workers,
    send_broadcast,
)


async def change_the_directory(factory: SessionFactory, school: int, ids: list[int]) -> None:
    """parent0 leaves the school, parent1 is deleted, parent2 changes address, parent3's address
    is suppressed, and parent10..12 arrive."""
    await add_contacts(factory, guardians(school, 3, start=10))
    async with transaction(factory) as session:
        await session.execute(
            update(Contact).where(col(Contact.id) == ids[0]).values(left_at=Contact.created_at)
        )
        await session.execute(delete(Contact).where(col(Contact.id) == ids[1]))
        await session.execute(
            update(ContactPoint)
            .where(col(ContactPoint.contact_id) == ids[2])
            .values(address="nouvelle-adresse@familles.fr")
        )
        await suppress(session, "email", "parent3@familles.fr", reason="unsubscribed")


def plain_text(captured: CapturedMessage) -> str:
    part = captured.message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


async def resolved_update(client: httpx.AsyncClient, key: dict[str, str], notice_id: int) -> int:
    created = await client.post(
        f"/api/v1/notices/{notice_id}/updates",
        headers=key,
        json={"status": "resolved", "message": "L'ENT fonctionne de nouveau."},
    )
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


async def follow_up(
    client: httpx.AsyncClient, key: dict[str, str], broadcast_id: int, body: dict[str, Any]
) -> httpx.Response:
    return await client.post(f"/api/v1/broadcasts/{broadcast_id}/follow-up", headers=key, json=body)


async def test_resolved_follow_up_reaches_the_first_addresses_after_the_directory_changed(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    ids = await add_contacts(factory, guardians(world.school_x, 6))
    key = auth(world.keys["head_x"])
    async with api(settings) as client:
        first = await send_broadcast(
            client, world.keys["head_x"], world.school_x, {"organisation_ids": [world.school_x]}
        )
        await run_burst_workers(settings)
        await change_the_directory(factory, world.school_x, ids)
        sink.clear()
        update_id = await resolved_update(client, key, first["notice_id"])
        draft = await follow_up(client, key, first["id"], {"update_id": update_id})
        assert draft.status_code == 201, draft.text
        confirmed = await client.post(
            f"/api/v1/broadcasts/{draft.json()['id']}/confirm", headers=key
        )
        assert confirmed.status_code == 202, confirmed.text
        await run_burst_workers(settings)
        done = await client.get(f"/api/v1/broadcasts/{draft.json()['id']}", headers=key)

    expected = {f"parent{n}@familles.fr" for n in (0, 1, 2, 4, 5)}
    body = draft.json()
    assert body["follow_up_of_id"] == first["id"]
    assert body["notice_id"] == first["notice_id"] and body["update_id"] == update_id
    [email] = body["preview"]["channels"]
    assert email["recipients"] == 5
    assert email["excluded"]["suppressed"] == 1
    assert Counter(a for m in sink.messages for a in m.rcpt_tos) == Counter(
        dict.fromkeys(expected, 1)
    )
    assert {plain_text(m).count("Résolu") for m in sink.messages} == {1}
    assert done.json()["status"] == "completed" and done.json()["totals"]["sent"] == 5
    async with transaction(factory) as session:
        rows = (
            await session.execute(
                select(col(Delivery.address), col(Delivery.contact_id)).where(
                    col(Delivery.broadcast_id) == body["id"]
                )
            )
        ).all()
    by_address = dict(rows)
    assert set(by_address) == expected
    assert by_address["parent1@familles.fr"] is None  # the contact was deleted since
    assert by_address["parent2@familles.fr"] == ids[2]


async def test_follow_up_checks_its_origin_channels_and_update_and_honours_idempotency_keys(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 2))
    key = auth(world.keys["head_x"])
    async with api(settings) as client:
        first = await send_broadcast(
            client, world.keys["head_x"], world.school_x, {"organisation_ids": [world.school_x]}
        )
        update_id = await resolved_update(client, key, first["notice_id"])
        too_early = await follow_up(client, key, first["id"], {"update_id": update_id})
        await run_burst_workers(settings)
        other_channel = await follow_up(
            client, key, first["id"], {"update_id": update_id, "channels": ["sms"]}
        )
        urgent = await follow_up(
            client, key, first["id"], {"update_id": update_id, "priority": "urgent"}
        )
        foreign_update = await follow_up(client, key, first["id"], {"update_id": 999_999})
        once = {**key, "Idempotency-Key": "suite-resolu-1"}
        url = f"/api/v1/broadcasts/{first['id']}/follow-up"
        replies = [await client.post(url, headers=once, json={}) for _ in range(2)]

    assert too_early.status_code == 409
    assert "pas encore" in too_early.json()["error"]["message"]
    assert other_channel.status_code == 422
    assert other_channel.json()["error"]["message"] == (
        "La diffusion d'origine n'utilisait pas ces canaux : sms."
    )
    assert urgent.status_code == 201 and urgent.json()["priority"] == "urgent"
    assert urgent.json()["channels"] == ["email"]
    assert foreign_update.status_code == 404
    assert [r.status_code for r in replies] == [201, 201]
    assert replies[0].json()["id"] == replies[1].json()["id"]
    assert replies[0].json()["update_id"] == update_id  # the notice's latest update

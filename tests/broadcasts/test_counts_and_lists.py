"""Issue 9, items 19 and 20: counts that add up (the follow-up preview, the audience preview's
approval, contacts vs deliveries, the preview recorded at confirm) and the lists people need
(imports, deliveries by channel and status, broadcasts newest first, masked addresses told
apart, notice updates in the audit log)."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import insert

from broadcast.core.db import SessionFactory, transaction
from broadcast.deliveries.models import Delivery
from broadcast.directory.models import ContactRole, Organisation
from broadcast.directory.schemas import ContactIn
from broadcast.imports.service import create_run
from broadcast.sandbox.smtp import SmtpSink
from broadcast.settings import Settings
from tests.support import (
    add_contacts,
    api,
    auth,
    build_world,
    guardians,
    operator_principal,
    run_burst_workers,
    send_broadcast,
)


def adds_up(channel: dict[str, Any]) -> bool:
    excluded = channel["excluded"]
    parts = (
        channel["recipients"],
        excluded["suppressed"],
        excluded["duplicate"],
        excluded["no_address"],
        excluded["left"],
        channel["served_earlier"],
    )
    return bool(channel["matched"] == sum(parts))


def families_with_email_and_mobile(school: int, count: int) -> list[ContactIn]:
    return [
        ContactIn(
            organisation_id=school,
            first_name="P",
            last_name=f"F{n}",
            role=ContactRole.guardian,
            level="6e",
            email=f"famille{n}@familles.fr",
            mobile=f"+3361234{n:04d}",
        )
        for n in range(count)
    ]


async def _draft(
    client: httpx.AsyncClient, key: str, school: int, channels: list[str]
) -> dict[str, Any]:
    notice = await client.post(
        "/api/v1/notices",
        headers=auth(key),
        json={
            "organisation_id": school,
            "title": "ENT indisponible",
            "message": "L'ENT est coupé.",
        },
    )
    assert notice.status_code == 201, notice.text
    draft = await client.post(
        "/api/v1/broadcasts",
        headers=auth(key),
        json={
            "notice_id": notice.json()["id"],
            "audience": {"organisation_ids": [school]},
            "channels": channels,
        },
    )
    assert draft.status_code == 201, draft.text
    body: dict[str, Any] = draft.json()
    return body


# -- counts that add up (item 19) ---------------------------------------------------------------


async def test_the_follow_up_preview_counts_matched_as_every_preview_does(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 4))
    key = auth(world.keys["head_x"])
    async with api(settings) as client:
        first = await send_broadcast(
            client, world.keys["head_x"], world.school_x, {"organisation_ids": [world.school_x]}
        )
        await run_burst_workers(settings)
        follow_up = await client.post(
            f"/api/v1/broadcasts/{first['id']}/follow-up", headers=key, json={}
        )
    assert follow_up.status_code == 201, follow_up.text
    preview = follow_up.json()["preview"]
    [email] = preview["channels"]
    assert (email["matched"], email["recipients"]) == (4, 4)
    assert adds_up(email)
    assert (preview["contacts"], preview["deliveries"]) == (4, 4)


async def test_the_audience_preview_says_what_approval_the_draft_would_need(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 2))
    academie_wide = {"organisation_ids": [world.academie]}
    async with api(settings) as client:
        audience = await client.post(
            "/api/v1/audiences/preview",
            headers=auth(world.keys["officer"]),
            json={"criteria": academie_wide, "channels": ["email"]},
        )
        school = await client.post(
            "/api/v1/audiences/preview",
            headers=auth(world.keys["head_x"]),
            json={"criteria": {"organisation_ids": [world.school_x]}, "channels": ["email"]},
        )
        notice = await client.post(
            "/api/v1/notices",
            headers=auth(world.keys["officer"]),
            json={"organisation_id": world.academie, "title": "Panne", "message": "Panne de l'ENT"},
        )
        draft = await client.post(
            "/api/v1/broadcasts",
            headers=auth(world.keys["officer"]),
            json={
                "notice_id": notice.json()["id"],
                "audience": academie_wide,
                "channels": ["email"],
            },
        )
    assert audience.status_code == 200, audience.text
    expected = draft.json()["preview"]
    assert audience.json()["approval_reasons"] == expected["approval_reasons"]
    assert audience.json()["approval_reasons"] == ["audience_above_school"]
    assert audience.json()["approval_messages"] == expected["approval_messages"]
    assert school.json()["approval_reasons"] == [] and school.json()["approval_messages"] == []


async def test_contacts_and_deliveries_keep_their_names_from_the_preview_to_the_broadcast(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, families_with_email_and_mobile(world.school_x, 3))
    key = auth(world.keys["head_x"])
    async with api(settings) as client:
        draft = await _draft(client, world.keys["head_x"], world.school_x, ["email", "sms"])
        confirmed = await client.post(f"/api/v1/broadcasts/{draft['id']}/confirm", headers=key)
        read = await client.get(f"/api/v1/broadcasts/{draft['id']}", headers=key)
    assert confirmed.status_code == 202, confirmed.text
    assert (draft["preview"]["contacts"], draft["preview"]["deliveries"]) == (3, 6)
    assert (draft["estimated_contacts"], draft["estimated_deliveries"]) == (3, 6)
    for shown in (confirmed.json(), read.json()):
        assert (shown["estimated_contacts"], shown["estimated_deliveries"]) == (3, 6)
        assert "estimated_recipients" not in shown


async def test_a_confirmed_broadcast_shows_the_preview_recorded_at_confirm(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 3))
    key = auth(world.keys["head_x"])
    async with api(settings) as client:
        draft = await _draft(client, world.keys["head_x"], world.school_x, ["email"])
        confirmed = await client.post(f"/api/v1/broadcasts/{draft['id']}/confirm", headers=key)
        await add_contacts(factory, guardians(world.school_x, 2, start=10))  # arrive afterwards
        read = await client.get(f"/api/v1/broadcasts/{draft['id']}", headers=key)
        listed = await client.get("/api/v1/broadcasts", headers=key)
    recorded = read.json()["preview"]
    assert recorded is not None and recorded == confirmed.json()["preview"]
    assert recorded["contacts"] == 3 and recorded["channels"][0]["recipients"] == 3
    assert recorded["approval_reasons"] == []
    assert listed.json()["items"][0]["preview"] == recorded


# -- lists people need (item 20) ----------------------------------------------------------------


async def test_imports_are_listed_within_scope_newest_first_by_pages(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    async with transaction(factory) as session:
        x = await session.get(Organisation, world.school_x)
        y = await session.get(Organisation, world.school_y)
        assert x is not None and y is not None
        ids = [
            (await create_run(session, None, org, filename=f"{n}.csv")).id
            for n, org in enumerate((x, y, x, x))
        ]
    key = auth(world.keys["head_x"])
    async with api(settings) as client:
        first = await client.get("/api/v1/imports", headers=key, params={"limit": 2})
        cursor = first.json()["next_cursor"]
        second = await client.get(
            "/api/v1/imports", headers=key, params={"limit": 2, "cursor": cursor}
        )
        viewer = await client.get("/api/v1/imports", headers=auth(world.keys["viewer_x"]))
    assert first.status_code == 200, first.text
    pages = [[run["id"] for run in page.json()["items"]] for page in (first, second)]
    assert pages == [[ids[3], ids[2]], [ids[0]]]
    assert second.json()["next_cursor"] is None
    assert [run["filename"] for run in first.json()["items"]] == ["3.csv", "2.csv"]
    assert viewer.status_code == 403


async def test_broadcasts_are_listed_newest_first(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    async with api(settings) as client:
        ids = [
            (await _draft(client, world.keys["head_x"], world.school_x, ["email"]))["id"]
            for _ in range(3)
        ]
        key = auth(world.keys["head_x"])
        first = await client.get("/api/v1/broadcasts", headers=key, params={"limit": 2})
        cursor = first.json()["next_cursor"]
        second = await client.get(
            "/api/v1/broadcasts", headers=key, params={"limit": 2, "cursor": cursor}
        )
    pages = [[b["id"] for b in page.json()["items"]] for page in (first, second)]
    assert pages == [[ids[2], ids[1]], [ids[0]]]


async def _deliveries(factory: SessionFactory, broadcast_id: int, contacts: list[int]) -> None:
    rows = [
        {
            "broadcast_id": broadcast_id,
            "channel": channel,
            "address": address,
            "contact_id": contact,
            "status": status,
        }
        for contact, channel, address, status in (
            (contacts[0], "email", "famille0@familles.fr", "sent"),
            (contacts[0], "sms", "+33612340000", "failed"),
            (contacts[1], "email", "famille1@familles.fr", "failed"),
            (contacts[1], "sms", "+33612340001", "sent"),
            (contacts[2], "email", "famille2@familles.fr", "sent"),
        )
    ]
    async with transaction(factory) as session:
        await session.execute(insert(Delivery), rows)


async def test_deliveries_are_filtered_by_channel_and_status(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    contacts = await add_contacts(factory, families_with_email_and_mobile(world.school_x, 3))
    key = auth(world.keys["head_x"])
    async with api(settings) as client:
        draft = await _draft(client, world.keys["head_x"], world.school_x, ["email", "sms"])
        await _deliveries(factory, draft["id"], contacts)
        path = f"/api/v1/broadcasts/{draft['id']}/deliveries"
        answers = {
            wanted: await client.get(path, headers=key, params=dict(wanted))
            for wanted in (
                (("channel", "email"),),
                (("status", "failed"),),
                (("channel", "email"), ("status", "sent")),
            )
        }
        unknown = await client.get(path, headers=key, params={"status": "perdu"})
    found = {
        w: [(d["channel"], d["status"]) for d in a.json()["items"]] for w, a in answers.items()
    }
    assert found == {
        (("channel", "email"),): [("email", "sent"), ("email", "failed"), ("email", "sent")],
        (("status", "failed"),): [("sms", "failed"), ("email", "failed")],
        (("channel", "email"), ("status", "sent")): [("email", "sent"), ("email", "sent")],
    }
    assert unknown.status_code == 422


async def test_masked_addresses_alike_are_told_apart_by_a_stable_tag(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    rows = guardians(world.school_x, 12)
    contacts = await add_contacts(factory, [rows[1], rows[11]])  # parent1@ and parent11@
    key = auth(world.keys["head_x"])
    async with api(settings) as client:
        tagged = []
        for _ in range(2):
            draft = await _draft(client, world.keys["head_x"], world.school_x, ["email"])
            await _deliveries_to(factory, draft["id"], contacts)
            listed = await client.get(f"/api/v1/broadcasts/{draft['id']}/deliveries", headers=key)
            tagged.append([(d["address"], d["address_tag"]) for d in listed.json()["items"]])
            samples = draft["preview"]["channels"][0]["samples"]
    first, again = tagged
    assert [address for address, _ in first] == ["p***1@f***.fr", "p***1@f***.fr"]
    assert first[0][1] != first[1][1] and all(len(tag) == 6 for _, tag in first)
    assert again == first  # the same contacts, the same tags
    assert [(s["address"], s["address_tag"]) for s in samples] == first


async def _deliveries_to(factory: SessionFactory, broadcast_id: int, contacts: list[int]) -> None:
    rows = [
        {
            "broadcast_id": broadcast_id,
            "channel": "email",
            "address": f"parent{n}@familles.fr",
            "contact_id": c,
        }
        for n, c in zip((1, 11), contacts, strict=True)
    ]
    async with transaction(factory) as session:
        await session.execute(insert(Delivery), rows)


async def test_a_notice_update_is_in_the_audit_log(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    key = auth(world.keys["head_x"])
    async with api(settings) as client:
        notice = await client.post(
            "/api/v1/notices",
            headers=key,
            json={"organisation_id": world.school_x, "title": "Panne", "message": "Panne de l'ENT"},
        )
        update = await client.post(
            f"/api/v1/notices/{notice.json()['id']}/updates",
            headers=key,
            json={"status": "resolved", "message": "L'ENT fonctionne de nouveau."},
        )
        logged = await client.get("/api/v1/audit", headers=key, params={"action": "notice.update"})
    assert update.status_code == 201, update.text
    [entry] = logged.json()["items"]
    head_x = await operator_principal(factory, "head_x")
    assert (entry["object_type"], entry["object_id"]) == ("notice", notice.json()["id"])
    assert entry["organisation_id"] == world.school_x and entry["operator_id"] == head_x.operator_id
    assert entry["details"] == {"update_id": update.json()["id"], "status": "resolved"}

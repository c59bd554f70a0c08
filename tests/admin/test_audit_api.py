"""The audit log API (issue 5, item 9): who, when, scope and object of every recorded action,
read and exported within the caller's scope (RULES A1), CSV cells guarded (A7), the export
itself audited, and no route that changes an entry."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx

from admin.access import access_table
from admin.app import create_app
from broadcast.accounts.models import AuditEvent, Role
from broadcast.accounts.service import audit, create_api_key, create_operator
from broadcast.core.db import SessionFactory, transaction
from broadcast.directory.models import Organisation
from broadcast.directory.uai import make_uai
from broadcast.settings import Settings
from tests.support import World, api, auth, build_world, send_broadcast


async def _notice(client: httpx.AsyncClient, key: str, organisation_id: int) -> int:
    response = await client.post(
        "/api/v1/notices",
        headers=auth(key),
        json={"organisation_id": organisation_id, "title": "Panne", "message": "Panne de l'ENT"},
    )
    assert response.status_code == 201, response.text
    notice_id: int = response.json()["id"]
    return notice_id


async def _entries(client: httpx.AsyncClient, key: str, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/audit", headers=auth(key), params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def _platform_entry(factory: SessionFactory) -> None:
    """An entry tied to no organisation, as the command line writes some."""
    async with transaction(factory) as session:
        audit(session, None, "settings.change", details={"name": "channel_rates"})


async def test_each_caller_reads_the_entries_of_his_own_scope(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    await _platform_entry(factory)
    async with api(settings) as client:
        notice_x = await _notice(client, world.keys["head_x"], world.school_x)
        notice_y = await _notice(client, world.keys["head_y"], world.school_y)
        seen_by_x = await _entries(client, world.keys["head_x"], action="notice.create")
        seen_by_y = await _entries(client, world.keys["head_y"], action="notice.create")
        seen_by_officer = await _entries(client, world.keys["officer"])
        seen_by_admin = await _entries(client, world.keys["admin"])
        viewer = await client.get("/api/v1/audit", headers=auth(world.keys["viewer_x"]))
    assert [(e["object_id"], e["organisation_id"]) for e in seen_by_x] == [
        (notice_x, world.school_x)
    ]
    assert [e["object_id"] for e in seen_by_y] == [notice_y]
    assert {e["organisation_id"] for e in seen_by_officer} == {world.school_x, world.school_y}
    assert "settings.change" not in {e["action"] for e in seen_by_officer}
    assert "settings.change" in {e["action"] for e in seen_by_admin}
    assert viewer.status_code == 403
    assert viewer.json()["error"]["message"] == "Votre rôle ne permet pas cette action."


async def test_send_and_cancel_are_logged_with_who_when_scope_and_object(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    async with api(settings) as client:
        draft = await send_broadcast(
            client, world.keys["head_x"], world.school_x, {"organisation_ids": [world.school_x]}
        )
        cancelled = await client.post(
            f"/api/v1/broadcasts/{draft['id']}/cancel", headers=auth(world.keys["head_x"])
        )
        assert cancelled.status_code == 200, cancelled.text
        entries = await _entries(
            client, world.keys["officer"], object_type="broadcast", object_id=draft["id"]
        )
    assert [e["action"] for e in entries] == ["broadcast.send", "broadcast.cancel"]
    prefix = "_".join(world.keys["head_x"].split("_")[:2])  # bc_ and 8 hex digits
    for entry in entries:
        assert entry["operator_name"] == "head_x" and entry["operator_id"]
        assert entry["api_key_prefix"] == prefix
        assert entry["organisation_id"] == world.school_x and entry["at"]


async def test_filters_and_keyset_pages(settings: Settings, factory: SessionFactory) -> None:
    world = await build_world(factory)
    key = world.keys["head_x"]
    async with api(settings) as client:
        ids = [await _notice(client, key, world.school_x) for _ in range(3)]
        first = await client.get("/api/v1/audit", headers=auth(key), params={"limit": 2})
        cursor = first.json()["next_cursor"]
        second = await client.get(
            "/api/v1/audit", headers=auth(key), params={"limit": 2, "cursor": cursor}
        )
        one = await _entries(client, key, object_type="notice", object_id=ids[1])
        future = await _entries(client, key, since="2999-01-01T00:00:00+01:00")
        past = await _entries(client, key, until="2000-01-01T00:00:00Z")
        everything = await _entries(
            client, key, since="2000-01-01T00:00:00Z", until="2999-01-01T00:00:00Z"
        )
        unknown = await client.get("/api/v1/audit", headers=auth(key), params={"since": "hier"})
        latest = await client.get(
            "/api/v1/audit", headers=auth(key), params={"limit": 2, "newest_first": True}
        )
        earliest = await client.get(
            "/api/v1/audit",
            headers=auth(key),
            params={"limit": 2, "newest_first": True, "cursor": latest.json()["next_cursor"]},
        )
    paged = [e["object_id"] for e in first.json()["items"] + second.json()["items"]]
    assert paged == ids and second.json()["next_cursor"] is None
    newest = [e["object_id"] for e in latest.json()["items"] + earliest.json()["items"]]
    assert newest == ids[::-1] and earliest.json()["next_cursor"] is None
    assert {e["organisation_code"] for e in one} == {make_uai("0670100")}  # school X
    assert [e["object_id"] for e in one] == [ids[1]]
    assert future == [] and past == [] and len(everything) == 3
    assert unknown.status_code == 422


async def _operator_with_a_formula_name(factory: SessionFactory, world: World) -> str:
    async with transaction(factory) as session:
        school = await session.get(Organisation, world.school_x)
        assert school is not None
        operator = await create_operator(
            session,
            email="formule@test.fr",
            display_name='=HYPERLINK("http://evil")',
            role=Role.head_teacher,
            organisation=school,
        )
        _, key = await create_api_key(session, operator, "test")
        audit(
            session,
            None,
            "settings.change",
            organisation_id=world.school_x,
            details={"note": "x"},
            object_type="+33612345678",
        )
    return key


def _csv_rows(response: httpx.Response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


async def test_the_csv_export_is_scoped_guarded_and_audited(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    formula_key = await _operator_with_a_formula_name(factory, world)
    async with api(settings) as client:
        await _notice(client, formula_key, world.school_x)
        await _notice(client, world.keys["head_y"], world.school_y)
        export = await client.get(
            "/api/v1/audit/export", headers=auth(world.keys["head_x"]), params={}
        )
        exports = await _entries(client, world.keys["head_x"], action="audit.export")
    assert export.status_code == 200, export.text
    assert export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    rows = _csv_rows(export)
    assert {row["organisation_id"] for row in rows} == {str(world.school_x)}
    notice_row = next(row for row in rows if row["action"] == "notice.create")
    assert notice_row["operator_name"] == '\'=HYPERLINK("http://evil")'
    settings_row = next(row for row in rows if row["action"] == "settings.change")
    assert settings_row["object_type"] == "'+33612345678"
    assert len(exports) == 1 and exports[0]["details"]["rows"] == len(rows)
    assert exports[0]["operator_name"] == "head_x"


async def test_no_route_changes_an_audit_entry(settings: Settings, factory: SessionFactory) -> None:
    world = await build_world(factory)
    audit_routes = {
        (r.method, r.path) for r in access_table(create_app(settings)) if "/audit" in r.path
    }
    assert audit_routes == {("GET", "/api/v1/audit"), ("GET", "/api/v1/audit/export")}
    key = world.keys["admin"]
    async with api(settings) as client:
        await _notice(client, key, world.school_x)
        before = await _entries(client, key)
        entry = before[0]["id"]
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            for url in ("/api/v1/audit", f"/api/v1/audit/{entry}"):
                response = await client.request(method, url, headers=auth(key), json={})
                assert response.status_code in (404, 405), (method, url)
        after = await _entries(client, key)
    assert after == before
    async with factory() as session:
        stored = await session.get(AuditEvent, entry)
        assert stored is not None and stored.action == "notice.create"

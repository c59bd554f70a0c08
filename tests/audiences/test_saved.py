"""Saved audiences through the API: CRUD within scope, unique names per organisation, previews
without a broadcast (inline or saved), read-only for a viewer."""

from __future__ import annotations

from typing import Any

import httpx

from broadcast.core.db import SessionFactory
from broadcast.sandbox.smtp import SmtpSink
from broadcast.settings import Settings
from tests.audiences.seeded_directory import EXPECTED_3E_68, seed_directory
from tests.support import api, auth


def guardians_3e(organisation_id: int) -> dict[str, Any]:
    return {
        "organisation_ids": [organisation_id],
        "roles": ["guardian"],
        "levels": ["3e"],
        "school_types": ["Collège"],
    }


async def save(
    client: httpx.AsyncClient, key: str, organisation_id: int, name: str, criteria: dict[str, Any]
) -> httpx.Response:
    return await client.post(
        "/api/v1/audiences",
        headers=auth(key),
        json={"organisation_id": organisation_id, "name": name, "criteria": criteria},
    )


async def test_an_officer_saves_reads_renames_and_deletes_an_audience(
    settings: Settings, factory: SessionFactory
) -> None:
    directory = await seed_directory(factory)
    world = directory.world
    key = world.keys["officer"]
    async with api(settings) as client:
        created = await save(client, key, world.dep68, "3e des collèges", guardians_3e(world.dep68))
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["criteria"]["school_types"] == ["college"]
        audience_id = body["id"]
        listed = await client.get("/api/v1/audiences", headers=auth(key))
        assert [a["name"] for a in listed.json()["items"]] == ["3e des collèges"]
        renamed = await client.patch(
            f"/api/v1/audiences/{audience_id}",
            headers=auth(key),
            json={"name": "Familles de 3e (68)"},
        )
        assert renamed.json()["name"] == "Familles de 3e (68)"
        deleted = await client.delete(f"/api/v1/audiences/{audience_id}", headers=auth(key))
        assert deleted.status_code == 204
        gone = await client.get(f"/api/v1/audiences/{audience_id}", headers=auth(key))
        assert gone.status_code == 404
        assert gone.json()["error"]["message"] == "Audience introuvable."


async def test_a_name_is_unique_per_organisation_with_a_french_error(
    settings: Settings, factory: SessionFactory
) -> None:
    directory = await seed_directory(factory)
    world = directory.world
    key = world.keys["officer"]
    async with api(settings) as client:
        first = await save(client, key, world.dep68, "Familles", guardians_3e(world.dep68))
        again = await save(client, key, world.dep68, "Familles", guardians_3e(world.dep68))
        elsewhere = await save(client, key, world.dep67, "Familles", guardians_3e(world.dep67))
        other = await save(client, key, world.dep68, "Autres", guardians_3e(world.dep68))
        renamed = await client.patch(
            f"/api/v1/audiences/{other.json()['id']}",
            headers=auth(key),
            json={"name": "Familles"},
        )
    assert (first.status_code, elsewhere.status_code) == (201, 201)
    assert again.status_code == renamed.status_code == 409
    expected = "Une audience nommée « Familles » existe déjà pour cette organisation."
    assert again.json()["error"]["message"] == expected


async def test_scope_a_head_teacher_saves_for_his_school_only(
    settings: Settings, factory: SessionFactory
) -> None:
    directory = await seed_directory(factory)
    world = directory.world
    async with api(settings) as client:
        of_y = await save(
            client, world.keys["head_y"], world.school_y, "Y", guardians_3e(world.school_y)
        )
        outside = await save(
            client, world.keys["head_x"], world.school_x, "Z", guardians_3e(world.school_z)
        )
        for_y = await save(
            client, world.keys["head_x"], world.school_y, "Y", guardians_3e(world.school_y)
        )
        read_y = await client.get(
            f"/api/v1/audiences/{of_y.json()['id']}", headers=auth(world.keys["head_x"])
        )
        listed = await client.get("/api/v1/audiences", headers=auth(world.keys["head_x"]))
        preview_y = await client.post(
            "/api/v1/audiences/preview",
            headers=auth(world.keys["head_x"]),
            json={"saved_audience_id": of_y.json()["id"], "channels": ["email"]},
        )
    assert of_y.status_code == 201
    assert outside.status_code == for_y.status_code == read_y.status_code == 404
    assert preview_y.status_code == 404
    assert listed.json()["items"] == []


async def test_preview_without_a_broadcast_inline_or_saved(
    settings: Settings, factory: SessionFactory
) -> None:
    directory = await seed_directory(factory)
    world = directory.world
    key = world.keys["officer"]
    async with api(settings) as client:
        inline = await client.post(
            "/api/v1/audiences/preview",
            headers=auth(key),
            json={"criteria": guardians_3e(world.dep68), "channels": ["email", "sms"]},
        )
        created = await save(client, key, world.dep68, "3e", guardians_3e(world.dep68))
        from_saved = await client.post(
            "/api/v1/audiences/preview",
            headers=auth(key),
            json={"saved_audience_id": created.json()["id"], "channels": ["email", "sms"]},
        )
        both = await client.post(
            "/api/v1/audiences/preview",
            headers=auth(key),
            json={
                "criteria": guardians_3e(world.dep68),
                "saved_audience_id": created.json()["id"],
                "channels": ["email"],
            },
        )
        broadcasts = await client.get("/api/v1/broadcasts", headers=auth(key))
    assert inline.status_code == 200, inline.text
    assert inline.json() == from_saved.json()
    email, sms = inline.json()["channels"]
    assert email["recipients"] == len([p for p in EXPECTED_3E_68 if p[0] == "email"])
    assert sms["recipients"] == 1
    assert email["matched"] == email["recipients"] + sum(email["excluded"].values())
    assert both.status_code == 422
    assert "soit des critères, soit une audience enregistrée" in str(both.json()["error"])
    assert broadcasts.json()["items"] == []


async def test_a_viewer_previews_and_reads_but_cannot_save(
    settings: Settings, factory: SessionFactory
) -> None:
    directory = await seed_directory(factory)
    world = directory.world
    async with api(settings) as client:
        created = await save(
            client, world.keys["head_x"], world.school_x, "X", guardians_3e(world.school_x)
        )
        viewer = world.keys["viewer_x"]
        refused = await save(client, viewer, world.school_x, "V", guardians_3e(world.school_x))
        read = await client.get(f"/api/v1/audiences/{created.json()['id']}", headers=auth(viewer))
        previewed = await client.post(
            "/api/v1/audiences/preview",
            headers=auth(viewer),
            json={"saved_audience_id": created.json()["id"], "channels": ["email"]},
        )
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == "Votre rôle ne permet pas cette action."
    assert read.status_code == previewed.status_code == 200
    assert previewed.json()["channels"][0]["recipients"] == 1


async def test_a_broadcast_names_a_saved_audience_instead_of_criteria(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    directory = await seed_directory(factory)
    world = directory.world
    async with api(settings) as client:
        mine = await save(
            client, world.keys["head_x"], world.school_x, "X", guardians_3e(world.school_x)
        )
        of_y = await save(
            client, world.keys["head_y"], world.school_y, "Y", guardians_3e(world.school_y)
        )
        notice = await client.post(
            "/api/v1/notices",
            headers=auth(world.keys["head_x"]),
            json={"organisation_id": world.school_x, "title": "Panne", "message": "Panne de l'ENT"},
        )

        async def draft(body: dict[str, Any]) -> httpx.Response:
            return await client.post(
                "/api/v1/broadcasts",
                headers=auth(world.keys["head_x"]),
                json={"notice_id": notice.json()["id"], "channels": ["email"], **body},
            )

        from_saved = await draft({"saved_audience_id": mine.json()["id"]})
        outside = await draft({"saved_audience_id": of_y.json()["id"]})
        neither = await draft({})
    assert from_saved.status_code == 201, from_saved.text
    assert from_saved.json()["audience"] == mine.json()["criteria"]
    assert from_saved.json()["preview"]["channels"][0]["recipients"] == 1
    assert outside.status_code == 404
    assert neither.status_code == 422
    assert "soit une audience, soit une audience enregistrée" in neither.text


async def test_criteria_stay_within_the_saved_audiences_organisation(
    settings: Settings, factory: SessionFactory
) -> None:
    directory = await seed_directory(factory)
    world = directory.world
    key = world.keys["officer"]
    async with api(settings) as client:
        created = await save(client, key, world.dep68, "68", guardians_3e(world.dep68))
        url = f"/api/v1/audiences/{created.json()['id']}"
        to_67 = await client.patch(
            url, headers=auth(key), json={"criteria": guardians_3e(world.dep67)}
        )
        to_z = await client.patch(
            url, headers=auth(key), json={"criteria": guardians_3e(world.school_z)}
        )
        saved_67 = await save(client, key, world.dep68, "67", guardians_3e(world.dep67))
    assert to_67.status_code == saved_67.status_code == 404
    assert to_z.status_code == 200
    assert to_z.json()["criteria"]["organisation_ids"] == [world.school_z]

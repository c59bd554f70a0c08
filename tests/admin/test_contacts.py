"""Contacts through the API: one, in bulk (all or nothing, every bad row reported), paged."""

from __future__ import annotations

from sqlalchemy import func, select

from broadcast.core.db import SessionFactory, transaction
from broadcast.directory.models import Contact, ContactPoint
from broadcast.settings import Settings
from tests.support import api, auth, build_world


async def test_create_one_contact_normalises_its_addresses(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    async with api(settings) as client:
        response = await client.post(
            "/api/v1/contacts",
            headers=auth(world.keys["head_x"]),
            json={
                "organisation_id": world.school_x,
                "first_name": "Léa",
                "last_name": "Muller",
                "role": "guardian",
                "level": "6e",
                "division": "6e B",
                "email": "Lea.Muller@Exemple.FR",
                "mobile": "06 12 34 56 78",
            },
        )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["email"] == "Lea.Muller@exemple.fr"
    assert body["mobile"] == "+33612345678"
    async with transaction(factory) as session:
        points = (await session.execute(select(ContactPoint.channel, ContactPoint.address))).all()
    assert sorted(points) == [("email", "Lea.Muller@exemple.fr"), ("sms", "+33612345678")]


async def test_invalid_fields_are_explained_in_french(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    async with api(settings) as client:
        response = await client.post(
            "/api/v1/contacts",
            headers=auth(world.keys["head_x"]),
            json={
                "organisation_id": world.school_x,
                "role": "grand-parent",
                "email": "pas-une-adresse",
                "mobile": "01 23 45 67 89",
            },
        )
        english = await client.post(
            "/api/v1/contacts",
            headers={**auth(world.keys["head_x"]), "Accept-Language": "en"},
            json={"organisation_id": world.school_x},
        )
    assert response.status_code == 422
    error = response.json()["error"]
    roles = "« guardian », « pupil », « teacher », « staff », « head », « follower »"
    assert error["message"] == (
        f"Certaines données sont invalides : « role » : valeur non permise ; valeurs acceptées : "
        f"{roles}; « email » : adresse e-mail invalide; « mobile » : numéro fixe : il ne peut pas "
        "recevoir de SMS."
    )
    by_field = {d["field"]: d["message"] for d in error["details"]}
    assert by_field == {
        "role": f"valeur non permise ; valeurs acceptées : {roles}",
        "email": "adresse e-mail invalide",
        "mobile": "numéro fixe : il ne peut pas recevoir de SMS",
    }
    assert english.json()["error"]["details"] == [{"field": "role", "message": "field required"}]


async def test_bulk_is_all_or_nothing_with_every_bad_row_reported(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    good = {"organisation_id": world.school_x, "role": "guardian"}
    rows = [{**good, "email": f"p{n}@familles.fr"} for n in range(10)]
    rows[3]["email"] = "faux"
    rows[7] = {**rows[7], "organisation_id": world.school_y}  # outside the head's school
    async with api(settings) as client:
        refused = await client.post(
            "/api/v1/contacts/bulk", headers=auth(world.keys["head_x"]), json={"contacts": rows}
        )
        async with transaction(factory) as session:
            assert await session.scalar(select(func.count()).select_from(Contact)) == 0
        rows[3]["email"] = "p3@familles.fr"
        rows[7]["organisation_id"] = world.school_x
        accepted = await client.post(
            "/api/v1/contacts/bulk", headers=auth(world.keys["head_x"]), json={"contacts": rows}
        )
    assert refused.status_code == 422
    assert refused.json()["error"]["message"].startswith("1 ligne(s) invalide(s)")
    assert refused.json()["error"]["details"] == [
        {"row": 4, "field": "email", "message": "adresse e-mail invalide"}
    ]
    assert accepted.status_code == 201
    assert accepted.json()["created"] == 10


async def test_bulk_reports_scope_errors_once_the_rows_are_valid(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    rows = [
        {"organisation_id": world.school_x, "role": "guardian"},
        {"organisation_id": world.school_y, "role": "guardian"},
        {"organisation_id": world.dep67, "role": "guardian"},
    ]
    async with api(settings) as client:
        response = await client.post(
            "/api/v1/contacts/bulk", headers=auth(world.keys["head_x"]), json={"contacts": rows}
        )
    assert response.status_code == 422
    assert [d["row"] for d in response.json()["error"]["details"]] == [2, 3]


async def test_bulk_refuses_more_than_ten_thousand_rows(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    rows = [{"organisation_id": world.school_x, "role": "pupil"}] * 10_001
    async with api(settings) as client:
        response = await client.post(
            "/api/v1/contacts/bulk", headers=auth(world.keys["officer"]), json={"contacts": rows}
        )
    assert response.status_code == 422


async def test_contacts_are_listed_by_cursor_pages(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    rows = [
        {"organisation_id": world.school_x, "role": "pupil", "last_name": f"E{n}"}
        for n in range(25)
    ]
    key = auth(world.keys["head_x"])
    async with api(settings) as client:
        await client.post("/api/v1/contacts/bulk", headers=key, json={"contacts": rows})
        seen: list[str] = []
        cursor = "0"
        while cursor:
            page = (
                await client.get(
                    "/api/v1/contacts", headers=key, params={"cursor": cursor, "limit": 10}
                )
            ).json()
            seen += [c["last_name"] for c in page["items"]]
            cursor = page["next_cursor"]
    assert seen == [f"E{n}" for n in range(25)]

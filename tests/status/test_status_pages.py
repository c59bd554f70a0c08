"""The public pages show the right incidents: inherited from above, a school's own only on its
page and its parents', never a non-public notice nor an exercise; notice text escaped."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import feedparser
import httpx
import jsonschema

from broadcast.core.db import SessionFactory, transaction
from broadcast.directory.models import Organisation
from broadcast.settings import Settings
from tests.status.status_support import post_notice, post_update
from tests.support import World, api, auth, build_world

SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "status.schema.json").read_text())


async def _code(factory: SessionFactory, organisation_id: int) -> str:
    async with transaction(factory) as session:
        organisation = await session.get(Organisation, organisation_id)
        assert organisation is not None
        return organisation.code


async def _seed(client: httpx.AsyncClient, world: World) -> None:
    officer, head_x, head_y = (world.keys[k] for k in ("officer", "head_x", "head_y"))
    await post_notice(client, officer, world.academie, "ENT indisponible dans l'académie")
    await post_notice(client, head_y, world.school_y, "Cantine fermée au lycée Y")
    await post_notice(client, head_x, world.school_x, "Note interne du collège", public=False)
    await post_notice(client, head_x, world.school_x, "Exercice PPMS", is_exercise=True)
    drill = await post_notice(client, head_x, world.school_x, "Alerte intrusion (simulation)")
    exercise = await client.post(
        "/api/v1/broadcasts",
        headers=auth(head_x),
        json={
            "notice_id": drill["id"],
            "audience": {"organisation_ids": [world.school_x]},
            "channels": ["email"],
            "is_exercise": True,
        },
    )
    assert exercise.status_code == 201, exercise.text
    own = await post_notice(
        client,
        head_x,
        world.school_x,
        "Téléphone du collège en panne <script>alert(1)</script>",
        message="Appelez le <script>alert('x')</script> secrétariat.",
        services=["telephone"],
    )
    await post_update(client, head_x, own["id"], "identified", "La ligne est coupée.")


async def test_school_page_inherits_and_keeps_to_its_own(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    x, y = await _code(factory, world.school_x), await _code(factory, world.school_y)
    async with api(settings) as client:
        await _seed(client, world)
        page_x = (await client.get(f"/status/{x}")).text
        page_y = (await client.get(f"/status/{y}/")).text
        academie = (await client.get("/status/STRAS")).text
    assert "ENT indisponible dans l&#39;académie" in page_x
    assert "Concerne tout l&#39;académie : Org STRAS" in page_x
    assert "Cantine fermée au lycée Y" not in page_x
    assert "Cantine fermée au lycée Y" in page_y and "Téléphone du collège" not in page_y
    assert "Cantine fermée au lycée Y" in academie and "Téléphone du collège" in academie
    assert f"Concerne Org {y}" in academie
    for hidden in ("Note interne", "Exercice PPMS", "Alerte intrusion"):
        assert hidden not in page_x and hidden not in academie
    assert "<script>alert" not in page_x
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page_x
    assert "Cause identifiée" in page_x and "Recherche en cours" in page_x
    assert 'Services concernés : <span class="service">Téléphone</span>' in page_x
    assert "Mis à jour à l&#39;instant" in page_x


async def test_next_update_and_english_by_accept_language(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    x = await _code(factory, world.school_x)
    day = datetime.now(ZoneInfo("Europe/Paris")).date() + timedelta(days=1)
    async with api(settings) as client:
        await post_notice(
            client,
            world.keys["head_x"],
            world.school_x,
            "ENT indisponible",
            next_update_at=f"{day.isoformat()}T10:30:00",
            services=["ent", "vie_scolaire"],
        )
        french = await client.get(f"/status/{x}")
        english = await client.get(f"/status/{x}", headers={"Accept-Language": "en-GB,en;q=0.9"})
        forced = await client.get(f"/status/{x}/en/")
    assert "Prochaine mise à jour prévue à 10 h 30" in french.text
    assert '<html lang="fr">' in french.text
    assert "Next update expected at 10:30 AM" in english.text
    assert "School life (attendance, marks)" in english.text
    assert english.text == forced.text
    assert "Accept-Language" in french.headers["vary"]


async def test_atom_parses_and_json_matches_its_schema(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    x = await _code(factory, world.school_x)
    async with api(settings) as client:
        await _seed(client, world)
        atom = await client.get(f"/status/{x}/feed.atom")
        document = await client.get(f"/status/{x}/status.json")
        academie = await client.get("/status/STRAS/status.json")
    feed = feedparser.parse(atom.content)
    assert not feed.bozo, feed.bozo_exception
    assert atom.headers["content-type"] == "application/atom+xml; charset=utf-8"
    titles = [entry.title for entry in feed.entries]
    assert "ENT indisponible dans l'académie (Recherche en cours)" in titles
    assert not any("Cantine" in t or "Exercice" in t for t in titles)
    assert any("<script>alert(1)</script>" in t for t in titles)  # text, as written
    body = document.json()
    jsonschema.validate(body, SCHEMA)
    jsonschema.validate(academie.json(), SCHEMA)
    assert document.headers["access-control-allow-origin"] == "*"
    relations = {i["title"]: i["relation"] for i in body["open_incidents"]}
    assert relations["ENT indisponible dans l'académie"] == "inherited"
    assert [s["code"] for s in body["open_incidents"][0]["services"]] == ["telephone"]


async def test_index_lists_academies_and_unknown_page_is_a_french_404(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    async with api(settings) as client:
        await post_notice(client, world.keys["officer"], world.academie, "ENT indisponible")
        index = await client.get("/status")
        missing = await client.get("/status/0000000A")
    assert "Org STRAS</a> : 1 incident en cours" in index.text
    assert missing.status_code == 404
    assert "Cette page d'état des services n'existe pas." in missing.text

"""Académie-level notice templates (issue 9, item 4): an académie's officer writes templates its
schools inherit, listed beside the national library, rendered and used like it; a school of
another académie never sees them; a head teacher cannot write them; bad ones are refused in
French."""

from __future__ import annotations

from typing import Any

from broadcast.core.db import SessionFactory, transaction
from broadcast.directory.models import Organisation, OrganisationKind
from broadcast.directory.service import create_organisation
from broadcast.directory.uai import make_uai
from broadcast.notices.templates import LIBRARY
from broadcast.settings import Settings
from tests.support import api, auth, build_world

NEIGE: dict[str, Any] = {
    "key": "transports-neige",
    "status": "identified",
    "title": {"fr": "{{ etablissement }} : transports scolaires suspendus"},
    "message": {
        "fr": "Les transports scolaires vers {{ etablissement }} sont suspendus le {{ date }} "
        "en raison de la neige. Les cours sont assurés pour les élèves présents.",
        "en": "School transport to {{ etablissement }} is suspended on {{ date }} because of "
        "snow. Lessons go ahead for the pupils present.",
    },
    "placeholders": [
        {"name": "etablissement", "label_fr": "Établissement", "example": "Collège Pasteur"},
        {"name": "date", "label_fr": "Date", "label_en": "Date", "example": "lundi 7 décembre"},
    ],
}
NATIONAL = {template.key for template in LIBRARY}


async def _other_academie_school(factory: SessionFactory, region_id: int) -> int:
    async with transaction(factory) as session:
        region = await session.get(Organisation, region_id)
        academie = await create_organisation(
            session, kind=OrganisationKind.academie, code="NANCY", name="Nancy-Metz", parent=region
        )
        school = await create_organisation(
            session,
            kind=OrganisationKind.etablissement,
            code=make_uai("0570100"),
            name="Collège de Metz",
            parent=academie,
        )
    return school.id or 0


async def test_schools_of_the_academie_see_and_use_its_templates_beside_the_national_ones(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    elsewhere = await _other_academie_school(factory, world.region)
    values = {"etablissement": "Collège Pasteur", "date": "lundi 7 décembre"}
    async with api(settings) as client:
        saved = await client.post(
            "/api/v1/notice-templates",
            headers=auth(world.keys["officer"]),
            json={**NEIGE, "organisation_id": world.academie},
        )
        head = auth(world.keys["head_x"])
        listed = await client.get("/api/v1/notice-templates", headers=head)
        preview = await client.post(
            "/api/v1/notice-templates/transports-neige/render",
            headers=head,
            json={"values": values, "organisation_id": world.school_x},
        )
        created = await client.post(
            "/api/v1/notices/from-template",
            headers=head,
            json={
                "organisation_id": world.school_x,
                "template": "transports-neige",
                "values": values,
            },
        )
        other = await client.get(
            "/api/v1/notice-templates",
            headers=auth(world.keys["admin"]),
            params={"organisation_id": elsewhere},
        )
        used_elsewhere = await client.post(
            "/api/v1/notice-templates/transports-neige/render",
            headers=auth(world.keys["admin"]),
            json={"values": values, "organisation_id": elsewhere},
        )

    assert saved.status_code == 201, saved.text
    assert listed.status_code == 200
    keys = [t["key"] for t in listed.json()]
    assert set(keys) == NATIONAL | {"transports-neige"}
    [neige] = [t for t in listed.json() if t["key"] == "transports-neige"]
    assert (neige["organisation_id"], neige["status"]) == (world.academie, "identified")
    assert [p["label"] for p in neige["placeholders"]] == ["Établissement", "Date"]
    assert preview.status_code == 200, preview.text
    assert preview.json()["title"] == "Collège Pasteur : transports scolaires suspendus"
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "identified"
    assert created.json()["updates"][0]["message"].startswith(
        "Les transports scolaires vers Collège Pasteur sont suspendus le lundi 7 décembre"
    )
    assert {t["key"] for t in other.json()} == NATIONAL
    assert used_elsewhere.status_code == 404
    assert used_elsewhere.json()["error"]["message"] == (
        "Modèle d'avis inconnu : « transports-neige »."
    )


async def test_writing_its_key_again_replaces_the_template(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    officer = auth(world.keys["officer"])
    changed = {**NEIGE, "title": {"fr": "{{ etablissement }} : pas de car le {{ date }}"}}
    async with api(settings) as client:
        for body in (NEIGE, changed):
            saved = await client.post(
                "/api/v1/notice-templates",
                headers=officer,
                json={**body, "organisation_id": world.academie},
            )
            assert saved.status_code == 201, saved.text
        listed = await client.get("/api/v1/notice-templates", headers=auth(world.keys["head_y"]))
    titles = [t["title"] for t in listed.json() if t["key"] == "transports-neige"]
    assert titles == ["{{ etablissement }} : pas de car le {{ date }}"]


async def test_bad_academie_templates_are_refused_in_french(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    officer = auth(world.keys["officer"])
    undeclared = {**NEIGE, "title": {"fr": "{{ etablissement }} : {{ motif }}"}}
    broken = {**NEIGE, "title": {"fr": "{{ etablissement : neige {{ date }}"}}
    nested = {**NEIGE, "title": {"fr": "{{ " + "(" * 500 + "date" + ")" * 500 + " }}"}}
    async with api(settings) as client:

        async def save(key: str, body: dict[str, Any], organisation_id: int) -> Any:
            return await client.post(
                "/api/v1/notice-templates",
                headers=auth(world.keys[key]),
                json={**body, "organisation_id": organisation_id},
            )

        by_head = await save("head_x", NEIGE, world.academie)
        for_a_school = await save("officer", NEIGE, world.school_x)
        national = await save("officer", {**NEIGE, "key": "exercice"}, world.academie)
        mismatch = await save("officer", undeclared, world.academie)
        syntax = await save("officer", broken, world.academie)
        too_deep = await save("officer", nested, world.academie)
        listed = await client.get("/api/v1/notice-templates", headers=officer)

    assert by_head.status_code == 404, "a school's head teacher cannot write for his académie"
    assert for_a_school.status_code == 422
    assert for_a_school.json()["error"]["message"] == (
        "Les modèles d'avis se définissent pour une académie, dont les établissements héritent : "
        "choisissez l'académie."
    )
    assert national.status_code == 422
    assert national.json()["error"]["message"] == (
        "« exercice » est un modèle de la bibliothèque nationale : choisissez une autre clé."
    )
    assert mismatch.status_code == 422
    assert mismatch.json()["error"]["message"] == (
        "Les valeurs déclarées doivent être celles que les textes utilisent : "
        "utilisées sans être déclarées : motif."
    )
    assert syntax.status_code == 422
    assert syntax.json()["error"]["message"].startswith("Le modèle n'est pas valide (ligne 1)")
    assert too_deep.status_code == 422
    assert too_deep.json()["error"]["message"] == (
        "Le modèle n'est pas valide : expressions trop imbriquées."
    )
    assert {t["key"] for t in listed.json()} == NATIONAL

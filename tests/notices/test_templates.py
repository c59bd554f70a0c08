"""Ready French notices (issue 5, item 10): each template renders in French and English with its
example values, in Jinja2's sandbox (RULES A5); a missing or unknown value is a French 422
naming it; a value is text, never a template; a head teacher starts a notice in one call."""

from __future__ import annotations

import pytest
from jinja2.exceptions import SecurityError

from broadcast.channels.sms_text import analyse
from broadcast.core.db import SessionFactory
from broadcast.core.errors import InvalidInput, NotFound
from broadcast.notices.templates import (
    LIBRARY,
    TEMPLATES,
    NoticeTemplate,
    get_template,
    render,
)
from broadcast.rendering import render_text, text_variables
from broadcast.settings import Settings
from tests.support import api, auth, build_world

INJECTION = "{{ ''.__class__.__mro__[1].__subclasses__() }}"


def _examples(template: NoticeTemplate) -> dict[str, str]:
    return {p.name: p.example for p in template.placeholders}


def test_the_library_holds_the_notices_head_teachers_ask_for() -> None:
    assert {
        "ent-indisponible",
        "perturbation-en-cours",
        "retour-a-la-normale",
        "exercice",
        "fermeture-exceptionnelle",
    } <= set(TEMPLATES)
    assert TEMPLATES["retour-a-la-normale"].status == "resolved"
    assert TEMPLATES["exercice"].exercise


@pytest.mark.parametrize("template", LIBRARY, ids=lambda t: t.key)
def test_each_template_declares_exactly_the_placeholders_its_texts_use(
    template: NoticeTemplate,
) -> None:
    used = set().union(
        *(text_variables(text) for text in (*template.title.values(), *template.message.values()))
    )
    assert used == template.placeholder_names()
    assert set(template.title) == set(template.message) == {"fr", "en"}


@pytest.mark.parametrize("template", LIBRARY, ids=lambda t: t.key)
def test_each_template_renders_in_french_and_english(template: NoticeTemplate) -> None:
    values = _examples(template)
    french = render(template, values, "fr")
    english = render(template, values, "en")
    for rendered in (french, english):
        assert "{" not in rendered.title + rendered.message
        assert values["etablissement"] in rendered.title
        for name, value in values.items():
            assert value in rendered.title + rendered.message, name
    assert french.message != english.message
    assert analyse(french.message).encoding == "GSM-7", "the French text stays cheap by SMS"


def test_the_ent_notice_reads_as_a_head_teacher_would_write_it() -> None:
    rendered = render(
        get_template("ent-indisponible"),
        {"etablissement": "Collège Jean Moulin", "depuis": "ce matin 8 h"},
        "fr",
    )
    assert rendered.title == "Collège Jean Moulin : ENT indisponible"
    assert rendered.message == (
        "L'ENT de Collège Jean Moulin est indisponible depuis ce matin 8 h. "
        "Les cours ont lieu normalement. Nous vous informerons de son retour."
    )
    assert rendered.status == "investigating"


def test_optional_values_may_be_left_out_and_appear_when_given() -> None:
    template = get_template("perturbation-en-cours")
    bare = render(template, {"etablissement": "Lycée Kléber", "service": "la cantine"}, "fr")
    full = render(
        template,
        {"etablissement": "Lycée Kléber", "service": "la cantine", "heure_retour": "14 h"},
        "fr",
    )
    assert bare.message == "Une perturbation touche la cantine à Lycée Kléber."
    assert full.message.endswith("Retour à la normale prévu vers 14 h.")


def test_a_missing_value_is_a_french_422_naming_it() -> None:
    with pytest.raises(InvalidInput) as refused:
        render(get_template("fermeture-exceptionnelle"), {"etablissement": "X", "date": " "}, "fr")
    assert refused.value.status_code == 422
    assert refused.value.message("fr") == (
        "Valeur manquante pour le modèle « fermeture-exceptionnelle » : date, motif."
    )
    assert {d["field"] for d in refused.value.details} == {"values.date", "values.motif"}


def test_an_unknown_value_or_template_is_refused() -> None:
    with pytest.raises(InvalidInput, match="nom_inconnu"):
        render(
            get_template("exercice"), {**_examples(TEMPLATES["exercice"]), "nom_inconnu": "x"}, "fr"
        )
    with pytest.raises(NotFound):
        get_template("../../etc/passwd")


def test_a_value_is_text_never_a_template() -> None:
    template = get_template("ent-indisponible")
    rendered = render(template, {"etablissement": INJECTION, "depuis": "{{ 7 * 7 }}"}, "fr")
    assert INJECTION in rendered.title and "{{ 7 * 7 }}" in rendered.message
    assert "49" not in rendered.message


def test_the_sandbox_refuses_a_template_that_walks_out_of_it() -> None:
    with pytest.raises(SecurityError):
        render_text(INJECTION, {})
    with pytest.raises(SecurityError):
        render_text("{{ x.__class__.__base__ }}", {"x": "a"})
    with pytest.raises(TypeError):
        render_text("{{ x }}", {"x": object()})  # type: ignore[dict-item]


def test_a_too_long_value_is_refused() -> None:
    values = {**_examples(TEMPLATES["retour-a-la-normale"]), "service": "x" * 201}
    with pytest.raises(InvalidInput) as refused:
        render(get_template("retour-a-la-normale"), values, "fr")
    assert "service (200 caractères au plus)" in refused.value.message("fr")


async def test_a_head_teacher_lists_renders_and_starts_a_notice_in_one_call(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    key = auth(world.keys["head_x"])
    values = {"etablissement": "Collège Jean Moulin", "depuis": "8 h"}
    async with api(settings) as client:
        listed = await client.get("/api/v1/notice-templates", headers=key)
        preview = await client.post(
            "/api/v1/notice-templates/ent-indisponible/render",
            headers=key,
            json={"values": values, "locale": "en"},
        )
        created = await client.post(
            "/api/v1/notices/from-template",
            headers=key,
            json={
                "organisation_id": world.school_x,
                "template": "ent-indisponible",
                "values": values,
            },
        )
        missing = await client.post(
            "/api/v1/notices/from-template",
            headers=key,
            json={"organisation_id": world.school_x, "template": "exercice", "values": {}},
        )
        unknown = await client.post(
            "/api/v1/notice-templates/nope/render", headers=key, json={"values": {}}
        )
        outside = await client.post(
            "/api/v1/notices/from-template",
            headers=key,
            json={
                "organisation_id": world.school_y,
                "template": "ent-indisponible",
                "values": values,
            },
        )
    assert listed.status_code == 200
    by_key = {t["key"]: t for t in listed.json()}
    assert [p["name"] for p in by_key["ent-indisponible"]["placeholders"]] == [
        "etablissement",
        "depuis",
        "details",
    ]
    assert by_key["ent-indisponible"]["placeholders"][0]["label"] == "Nom de l'établissement"
    assert preview.status_code == 200, preview.text
    assert preview.json()["title"] == "Collège Jean Moulin: digital workspace (ENT) unavailable"
    assert created.status_code == 201, created.text
    notice = created.json()
    assert notice["title"] == "Collège Jean Moulin : ENT indisponible"
    assert notice["status"] == "investigating"
    assert notice["updates"][0]["message"].startswith("L'ENT de Collège Jean Moulin est")
    assert missing.status_code == 422
    assert missing.json()["error"]["message"].startswith("Valeur manquante pour le modèle")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == "Modèle d'avis inconnu : « nope »."
    assert outside.status_code == 404


async def test_a_viewer_sees_the_templates_but_cannot_start_a_notice(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    key = auth(world.keys["viewer_x"])
    async with api(settings) as client:
        listed = await client.get("/api/v1/notice-templates", headers=key)
        refused = await client.post(
            "/api/v1/notices/from-template",
            headers=key,
            json={"organisation_id": world.school_x, "template": "exercice", "values": {}},
        )
    assert listed.status_code == 200
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == "Votre rôle ne permet pas cette action."


async def test_starting_from_a_template_twice_with_one_idempotency_key_makes_one_notice(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    headers = {**auth(world.keys["head_x"]), "Idempotency-Key": "ent-lundi"}
    body = {
        "organisation_id": world.school_x,
        "template": "ent-indisponible",
        "values": {"etablissement": "Collège Jean Moulin", "depuis": "8 h"},
    }
    async with api(settings) as client:
        first = await client.post("/api/v1/notices/from-template", headers=headers, json=body)
        again = await client.post("/api/v1/notices/from-template", headers=headers, json=body)
        listed = await client.get("/api/v1/notices", headers=auth(world.keys["head_x"]))
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert [n["id"] for n in listed.json()["items"]] == [first.json()["id"]]

"""Issue 9, items 6, 7 and 17 on both databases: hostile or mistaken input gets a clear status
and a French message, never a server error; every validation message is French and names the
limits or the accepted values."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest

from broadcast.core.db import SessionFactory
from broadcast.settings import Settings
from tests.inbound_support import create_source
from tests.support import World, api, auth, build_world

HUGE = "9" * 30
"""Far outside int64."""


@pytest.fixture
async def world(factory: SessionFactory) -> World:
    return await build_world(factory)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with api(settings) as found:
        yield found


def _error(response: httpx.Response) -> dict[str, object]:
    body: dict[str, dict[str, object]] = response.json()
    return body["error"]


async def _notice(client: httpx.AsyncClient, world: World, key: str = "head_x") -> int:
    created = await client.post(
        "/api/v1/notices",
        headers=auth(world.keys[key]),
        json={
            "organisation_id": world.school_x if key == "head_x" else world.academie,
            "title": "ENT indisponible",
            "message": "L'ENT est indisponible ce matin.",
        },
    )
    assert created.status_code == 201, created.text
    notice_id: int = created.json()["id"]
    return notice_id


# -- item 6: integers, dates, tokens, NUL ---------------------------------------------------


async def test_integers_outside_their_column_are_422_in_french_in_path_query_and_body(
    client: httpx.AsyncClient, world: World
) -> None:
    key = auth(world.keys["head_x"])
    in_path = await client.get(f"/api/v1/broadcasts/{HUGE}", headers=key)
    in_query = await client.get(f"/api/v1/contacts?organisation_id={HUGE}", headers=key)
    in_body = await client.post(
        "/api/v1/notices",
        headers=key,
        json={"organisation_id": 2**40, "title": "Titre", "message": "Texte"},
    )
    unauthenticated = await client.post(f"/api/v1/inbound/alertmanager/{HUGE}", json={})
    for answer in (in_path, in_query, in_body, unauthenticated):
        assert answer.status_code == 422, answer.text
        [detail] = _error(answer)["details"]  # type: ignore[misc]
        assert detail["message"] == "valeur trop grande : 2\u202f147\u202f483\u202f647 au plus"
    assert _error(in_body)["message"] == (
        "Certaines données sont invalides : « organisation_id » : "
        "valeur trop grande : 2\u202f147\u202f483\u202f647 au plus."
    )


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        ("0001-01-01", "date hors limites : entre l'an 1970 et l'an 2999"),
        ("9999-12-31T23:59:59-23:59", "date hors limites : entre l'an 1970 et l'an 2999"),
        ("1700000000", "date attendue (AAAA-MM-JJ ou AAAA-MM-JJTHH:MM), pas un nombre"),
    ],
)
async def test_absurd_dates_and_bare_numbers_are_refused_in_french(
    client: httpx.AsyncClient, world: World, since: str, expected: str
) -> None:
    answer = await client.get(
        "/api/v1/audit", headers=auth(world.keys["officer"]), params={"since": since}
    )
    assert answer.status_code == 422
    assert _error(answer)["details"] == [{"field": "since", "message": expected}]


async def test_a_broadcast_scheduled_more_than_a_year_ahead_is_refused(
    client: httpx.AsyncClient, world: World
) -> None:
    notice_id = await _notice(client, world)
    draft = await client.post(
        "/api/v1/broadcasts",
        headers=auth(world.keys["head_x"]),
        json={
            "notice_id": notice_id,
            "audience": {"organisation_ids": [world.school_x]},
            "channels": ["email"],
            "scheduled_at": f"{date.today().year + 2}-01-15T09:00",
        },
    )
    assert draft.status_code == 422
    assert _error(draft)["details"] == [
        {
            "field": "scheduled_at",
            "message": "l'heure programmée ne peut pas dépasser un an à l'avance",
        }
    ]


@pytest.mark.parametrize("token", ["١٢٣.abcdefghijklmnopqrstuv", "9" * 5000 + ".x", "é" * 40])
async def test_strange_unsubscribe_tokens_are_an_invalid_link_not_an_error(
    client: httpx.AsyncClient, token: str
) -> None:
    page = await client.get(f"/u/{token}")
    posted = await client.post(f"/u/{token}")
    assert page.status_code == 200
    assert posted.status_code == 404
    assert "Lien invalide ou expiré." in posted.text


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("webhook-timestamp", "9" * 5000),
        ("webhook-timestamp", "²³"),
        ("webhook-id", "é" * 10),
        ("webhook-signature", "v1,é"),
    ],
)
async def test_strange_headers_on_the_generic_inbound_webhook_are_refused_in_french(
    client: httpx.AsyncClient, world: World, header: str, value: str
) -> None:
    source = await create_source(client, world.keys["officer"], world.school_x, "generic")
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": "1700000000",
        "webhook-signature": "v1,AAAA",
        header: value,
    }
    encoded = {name: text.encode() for name, text in headers.items()}
    answer = await client.post(
        f"/api/v1/inbound/generic/{source['id']}", content=b"{}", headers=encoded
    )
    assert answer.status_code == 401
    assert str(_error(answer)["message"]).startswith(
        ("En-tête", "Horodatage", "Signature", "Webhook")
    )


async def test_a_nul_character_in_any_text_is_refused_in_french(
    client: httpx.AsyncClient, world: World
) -> None:
    answer = await client.post(
        "/api/v1/notices",
        headers=auth(world.keys["head_x"]),
        json={"organisation_id": world.school_x, "title": "ENT\x00", "message": "Texte"},
    )
    assert answer.status_code == 422
    assert _error(answer)["details"] == [
        {"field": "title", "message": "caractère nul (U+0000) interdit"}
    ]


# -- item 7: body size and strings in lists -------------------------------------------------


async def test_a_body_over_one_megabyte_is_413_before_authentication(
    client: httpx.AsyncClient,
) -> None:
    body = b'{"title": "' + b"x" * (1 << 20) + b'"}'
    declared = await client.post("/api/v1/notices", content=body)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b" " * (100 << 10)

    streamed = await client.post("/api/v1/notices", content=chunks())
    for answer in (declared, streamed):
        assert answer.status_code == 413
        assert _error(answer)["message"] == (
            "Le corps de la requête est trop volumineux : 1 Mo au plus."
        )


async def test_every_string_inside_a_list_has_a_length_limit(
    client: httpx.AsyncClient, world: World
) -> None:
    answer = await client.post(
        "/api/v1/audiences/preview",
        headers=auth(world.keys["head_x"]),
        json={
            "criteria": {"organisation_ids": [world.school_x], "divisions": ["3e B" * 20]},
            "channels": ["email"],
        },
    )
    assert answer.status_code == 422
    assert _error(answer)["details"] == [
        {"field": "criteria.divisions.0", "message": "texte trop long : 32 caractères au plus"}
    ]


# -- item 17: messages a person reads -------------------------------------------------------


async def test_an_unknown_role_names_the_accepted_values_and_parent_means_guardian(
    client: httpx.AsyncClient, world: World
) -> None:
    key = auth(world.keys["head_x"])
    wrong = await client.post(
        "/api/v1/contacts",
        headers=key,
        json={"organisation_id": world.school_x, "role": "grand-parent"},
    )
    parent = await client.post(
        "/api/v1/contacts",
        headers=key,
        json={"organisation_id": world.school_x, "role": "parent", "email": "p@familles.fr"},
    )
    assert wrong.status_code == 422
    assert _error(wrong)["details"] == [
        {
            "field": "role",
            "message": "valeur non permise ; valeurs acceptées : « guardian », « pupil », "
            "« teacher », « staff », « head », « follower »",
        }
    ]
    assert "Input should be" not in wrong.text
    assert parent.status_code == 201, parent.text
    assert parent.json()["role"] == "guardian"


async def test_a_level_written_another_way_is_refused_with_the_level_meant(
    client: httpx.AsyncClient, world: World
) -> None:
    answer = await client.post(
        "/api/v1/audiences/preview",
        headers=auth(world.keys["head_x"]),
        json={
            "criteria": {"organisation_ids": [world.school_x], "levels": ["3ème", "cm2"]},
            "channels": ["email"],
        },
    )
    assert answer.status_code == 422
    assert _error(answer)["details"] == [
        {
            "field": "criteria.levels.0",
            "message": "niveau inconnu « 3ème » : vouliez-vous dire « 3e » ?",
        }
    ]


async def test_a_status_is_named_in_a_french_sentence(
    client: httpx.AsyncClient, world: World
) -> None:
    notice_id = await _notice(client, world)
    key = auth(world.keys["head_x"])
    draft = await client.post(
        "/api/v1/broadcasts",
        headers=key,
        json={
            "notice_id": notice_id,
            "audience": {"organisation_ids": [world.school_x]},
            "channels": ["email"],
        },
    )
    paused = await client.post(f"/api/v1/broadcasts/{draft.json()['id']}/pause", headers=key)
    assert paused.status_code == 409
    assert _error(paused)["message"] == (
        "Cette diffusion est encore à l'état de brouillon : seule une diffusion en file ou en "
        "cours d'envoi peut être suspendue."
    )


async def test_approval_reasons_come_with_french_sentences(
    client: httpx.AsyncClient, world: World
) -> None:
    notice_id = await _notice(client, world, "officer")
    draft = await client.post(
        "/api/v1/broadcasts",
        headers=auth(world.keys["officer"]),
        json={
            "notice_id": notice_id,
            "audience": {"organisation_ids": [world.academie]},
            "channels": ["email"],
        },
    )
    assert draft.status_code == 201, draft.text
    preview = draft.json()["preview"]
    assert preview["approval_reasons"] == ["audience_above_school"]
    assert preview["approval_messages"] == [
        "L'audience dépasse un établissement : un second opérateur doit approuver l'envoi."
    ]

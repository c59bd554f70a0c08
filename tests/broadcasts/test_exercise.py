"""Exercise mode: "EXERCICE" first on every channel, a seed list of test addresses instead of the
audience, exercises apart in the lists; through the SMTP sink and the Twilio sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from broadcast.core.db import SessionFactory
from broadcast.sandbox.smtp import SmtpSink
from broadcast.sandbox.twilio import TwilioSandbox
from broadcast.settings import Settings
from tests.sms_support import families, running_sandbox, through, with_sms
from tests.support import add_contacts, api, auth, build_world, run_burst_workers

SEED = [
    {"channel": "email", "address": "cellule.crise@ac-strasbourg.fr"},
    {"channel": "sms", "address": "06 12 34 56 78"},
    {"channel": "email", "address": " cellule.crise@AC-Strasbourg.fr"},
]


@pytest.fixture
async def sandbox() -> AsyncIterator[TwilioSandbox]:
    async with running_sandbox() as server:
        server.hold_callbacks = True
        yield server


async def draft(
    client: httpx.AsyncClient, key: dict[str, str], school: int, **fields: Any
) -> httpx.Response:
    notice = await client.post(
        "/api/v1/notices",
        headers=key,
        json={"organisation_id": school, "title": "Alerte intrusion", "message": "Confinez."},
    )
    body = {
        "notice_id": notice.json()["id"],
        "audience": {"organisation_ids": [school]},
        "channels": ["email"],
        **fields,
    }
    return await client.post("/api/v1/broadcasts", headers=key, json=body)


async def confirm(client: httpx.AsyncClient, key: dict[str, str], broadcast_id: int) -> None:
    confirmed = await client.post(f"/api/v1/broadcasts/{broadcast_id}/confirm", headers=key)
    assert confirmed.status_code == 202, confirmed.text


async def test_an_exercise_with_a_seed_list_reaches_only_it_and_says_exercice_first(
    settings: Settings, factory: SessionFactory, sink: SmtpSink, sandbox: TwilioSandbox
) -> None:
    settings = with_sms(settings, sandbox)
    world = await build_world(factory)
    await add_contacts(factory, families(world.school_x, 3))
    key = auth(world.keys["head_x"])
    async with api(settings) as client:
        sandbox.deliver = through(client, settings)
        created = await draft(
            client,
            key,
            world.school_x,
            channels=["email", "sms"],
            is_exercise=True,
            exercise_addresses=SEED,
        )
        assert created.status_code == 201, created.text
        await confirm(client, key, created.json()["id"])
        await run_burst_workers(settings)
        follow_up = await client.post(
            f"/api/v1/broadcasts/{created.json()['id']}/follow-up", headers=key, json={}
        )

    body = created.json()
    assert body["is_exercise"] is True
    assert follow_up.json()["is_exercise"] is True  # the end of an exercise is an exercise too
    assert [c["recipients"] for c in follow_up.json()["preview"]["channels"]] == [1, 1]
    assert [c["recipients"] for c in body["preview"]["channels"]] == [1, 1]
    [email] = sink.messages
    assert email.rcpt_tos == ["cellule.crise@ac-strasbourg.fr"]
    assert email.subject.startswith("EXERCICE - [")
    text, html = email.message.get_body(("plain",)), email.message.get_body(("html",))
    assert text is not None and html is not None
    assert text.get_content().startswith("EXERCICE : ceci est un exercice")
    assert "<strong>EXERCICE</strong>" in html.get_content()
    [sms] = sandbox.messages
    assert sms.to == "+33612345678"
    assert sms.body.startswith("EXERCICE - [Collège Org ")


async def test_an_exercise_without_a_seed_list_reaches_its_audience_marked_exercice(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, families(world.school_x, 3))
    key = auth(world.keys["head_x"])
    async with api(settings) as client:
        created = await draft(client, key, world.school_x, is_exercise=True)
        await confirm(client, key, created.json()["id"])
        await run_burst_workers(settings)

    assert sorted(a for m in sink.messages for a in m.rcpt_tos) == [
        f"parent{n}@familles.fr" for n in range(3)
    ]
    assert {m.subject.split(" [")[0] for m in sink.messages} == {"EXERCICE -"}


async def test_exercises_are_listed_apart(settings: Settings, factory: SessionFactory) -> None:
    world = await build_world(factory)
    key = auth(world.keys["head_x"])
    async with api(settings) as client:
        real = (await draft(client, key, world.school_x)).json()
        exercise = (await draft(client, key, world.school_x, is_exercise=True)).json()
        only_exercises = await client.get("/api/v1/broadcasts?exercise=true", headers=key)
        only_real = await client.get("/api/v1/broadcasts?exercise=false", headers=key)
        both = await client.get("/api/v1/broadcasts", headers=key)

    assert [b["id"] for b in only_exercises.json()["items"]] == [exercise["id"]]
    assert [b["id"] for b in only_real.json()["items"]] == [real["id"]]
    assert [b["is_exercise"] for b in both.json()["items"]] == [True, False]  # newest first


async def test_seed_lists_are_validated_in_french(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    key = auth(world.keys["head_x"])
    async with api(settings) as client:
        not_an_exercise = await draft(client, key, world.school_x, exercise_addresses=SEED[:1])
        bad = await draft(
            client,
            key,
            world.school_x,
            channels=["email", "sms"],
            is_exercise=True,
            exercise_addresses=[
                {"channel": "email", "address": "pas-une-adresse"},
                {"channel": "sms", "address": "03 88 00 00 00"},
            ],
        )
        other_channel = await draft(
            client, key, world.school_x, is_exercise=True, exercise_addresses=SEED[1:2]
        )

    assert not_an_exercise.status_code == 422
    assert not_an_exercise.json()["error"]["details"][0]["message"] == (
        "des adresses de test ne s'utilisent que pour un exercice"
    )
    assert bad.status_code == 422
    assert {d["field"]: d["message"] for d in bad.json()["error"]["details"]} == {
        "exercise_addresses.0.address": "adresse e-mail invalide",
        "exercise_addresses.1.address": (
            "numéro de mobile invalide (format E.164 attendu, ex. +33612345678)"
        ),
    }
    assert other_channel.status_code == 422
    assert other_channel.json()["error"]["message"] == (
        "Adresses de test sur un canal non choisi pour cette diffusion : sms."
    )

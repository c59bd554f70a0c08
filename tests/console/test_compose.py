"""Rédiger over HTTP (issue 11, items 3 and 10): each step's form, its rows, its refusals in
French, the scope (RULES A1) and the send through the real workers and the SMTP sink."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import func, select, update
from sqlmodel import col

from admin.console import check
from admin.console.texts import ENGLISH
from admin.console.web import TEMPLATES
from broadcast.accounts.models import Operator
from broadcast.broadcasts.approval import REASON_SENTENCES_FR
from broadcast.broadcasts.models import Broadcast, BroadcastStatus
from broadcast.core.db import SessionFactory, transaction
from broadcast.notices.models import Notice, NoticeUpdate
from broadcast.ratelimit import RateLimit
from broadcast.sandbox.smtp import SmtpSink
from broadcast.settings import Settings
from tests.console.console_support import csrf_of, give_password, sign_in
from tests.support import (
    World,
    add_contacts,
    api,
    auth,
    build_world,
    guardians,
    next_june,
    run_burst_workers,
)

TEMPLATE = "/console/rediger/modele/ent-indisponible"


async def _school_families(factory: SessionFactory) -> World:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 3))
    await add_contacts(factory, guardians(world.school_y, 7, start=100, domain="lycee.fr"))
    return world


async def _signed_in(client: httpx.AsyncClient, factory: SessionFactory, email: str) -> None:
    credentials = await give_password(factory, email, with_totp=not email.startswith("head"))
    assert (await sign_in(client, credentials)).status_code == 303


async def _post(
    client: httpx.AsyncClient, path: str, data: dict[str, str | list[str]], *, from_page: str
) -> httpx.Response:
    page = await client.get(from_page)
    assert page.status_code == 200, page.text
    return await client.post(path, data={"csrf": csrf_of(page), **data})


async def _draft_from_template(client: httpx.AsyncClient, *, fast: bool = False) -> int:
    suffix = "?rapide=1" if fast else ""
    values: dict[str, str | list[str]] = {
        "v_etablissement": "Collège Jean Moulin",
        "v_depuis": "ce matin 8 h",
    }
    if fast:
        values["rapide"] = "1"
    answer = await _post(client, TEMPLATE, values, from_page=TEMPLATE + suffix)
    assert answer.status_code == 303, answer.text
    found = re.fullmatch(r"/console/rediger/(\d+)/(audience|verifier)", answer.headers["location"])
    assert found and found.group(2) == ("verifier" if fast else "audience")
    return int(found.group(1))


async def _row(factory: SessionFactory, broadcast_id: int) -> Broadcast:
    async with factory() as session:
        found = await session.get(Broadcast, broadcast_id)
        assert found is not None
        return found


async def test_head_teacher_warns_his_families_in_five_screens_and_they_receive_it(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    await _school_families(factory)
    async with api(settings) as client:
        await _signed_in(client, factory, "head_x@test.fr")
        home = await client.get("/console/")  # screen 1
        assert (
            'href="/console/rediger/familles"' in home.text and "Prévenir les familles" in home.text
        )
        choices = await client.get("/console/rediger/familles")  # screen 2
        assert f'href="{TEMPLATE}?rapide=1"' in choices.text and "ENT indisponible" in choices.text
        form = await client.get(TEMPLATE + "?rapide=1")  # screen 3: his school prefilled
        assert 'value="Org 0670100' in form.text
        broadcast_id = await _draft_from_template(client, fast=True)
        check = await client.get(f"/console/rediger/{broadcast_id}/verifier")  # screen 4
        assert check.status_code == 200
        assert "Envoyer 3 e-mails" in check.text
        assert "Aucune approbation n&#39;est nécessaire" in check.text
        answer = await client.post(
            f"/console/rediger/{broadcast_id}/envoyer", data={"csrf": csrf_of(check)}
        )
        assert answer.status_code == 303
        done = await client.get(answer.headers["location"])  # screen 5
        assert "Envoi lancé" in done.text and "3 destinataires prévus" in done.text
    assert (await _row(factory, broadcast_id)).status == BroadcastStatus.queued
    await run_burst_workers(settings)
    received = sorted(m.to for m in sink.messages)
    assert received == ["parent0@familles.fr", "parent1@familles.fr", "parent2@familles.fr"]
    assert all("ENT" in m.subject for m in sink.messages)
    assert (await _row(factory, broadcast_id)).status == BroadcastStatus.completed


async def test_officer_composes_each_step_and_the_check_page_says_everything(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await _school_families(factory)
    async with api(settings) as client:
        await _signed_in(client, factory, "officer@test.fr")
        start = await client.get("/console/rediger")
        assert "Partir d&#39;un modèle" in start.text and "Texte libre" in start.text
        text = await _post(
            client,
            "/console/rediger/texte",
            {
                "organisation_id": str(world.dep67),
                "title": "Messagerie indisponible",
                "message": "La messagerie est en panne : nous vous tiendrons informés… « vite ».",
                "status": "identified",
            },
            from_page="/console/rediger/texte",
        )
        assert text.status_code == 303
        broadcast_id = int(text.headers["location"].split("/")[3])
        audience_path = f"/console/rediger/{broadcast_id}/audience"
        audience = await client.get(audience_path)
        assert "Org 0670100" in audience.text and "Org 0680300" not in audience.text
        assert "10 personnes" in audience.text
        chosen = await _post(
            client,
            audience_path,
            {"organisation_ids": [str(world.school_y)], "roles": ["guardian"], "levels": "6e"},
            from_page=audience_path,
        )
        assert chosen.headers["location"] == f"/console/rediger/{broadcast_id}/canaux"
        channels_path = f"/console/rediger/{broadcast_id}/canaux"
        channels = await _post(
            client,
            channels_path,
            {"channels": ["email", "sms"], "when": "now", "exercise": "1"},
            from_page=channels_path,
        )
        assert channels.headers["location"] == f"/console/rediger/{broadcast_id}/verifier"
        check = await client.get(f"/console/rediger/{broadcast_id}/verifier")
    row = await _row(factory, broadcast_id)
    assert row.audience["organisation_ids"] == [world.school_y] and row.is_exercise
    assert row.channels == ["email", "sms"] and row.status == BroadcastStatus.draft
    assert "Envoyer 7 e-mails" in check.text
    assert "7 sans adresse sur ce canal" in check.text  # SMS: nobody has a mobile
    assert "<mark" in check.text and "UCS-2" in check.text  # … « » force UCS-2
    assert "Remplacer la ponctuation typographique" in check.text
    assert "Exercice" in check.text and "envoi immédiat" in check.text
    assert "Org 67, par heure" in check.text and "Org GE" not in check.text  # caps in scope
    assert 'class="bubble"' in check.text and 'class="mail"' in check.text


async def test_the_normaliser_rewrites_punctuation_only(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await _school_families(factory)
    async with api(settings) as client:
        await _signed_in(client, factory, "head_x@test.fr")
        answer = await _post(
            client,
            "/console/rediger/texte",
            {
                "organisation_id": str(world.school_x),
                "title": "Grève",
                "message": "L’ENT est arrêté… « Patience » – merci.",
                "status": "identified",
            },
            from_page="/console/rediger/texte",
        )
        broadcast_id = int(answer.headers["location"].split("/")[3])
        check_path = f"/console/rediger/{broadcast_id}/verifier"
        normalised = await _post(
            client, f"/console/rediger/{broadcast_id}/normaliser", {}, from_page=check_path
        )
        assert normalised.headers["location"] == check_path + "?normalise=1"
        check = await client.get(normalised.headers["location"])
    assert "La ponctuation a été remplacée" in check.text
    async with factory() as session:
        message = await session.scalar(
            select(NoticeUpdate.message).order_by(col(NoticeUpdate.id).desc())
        )
    assert message == 'L\'ENT est arrêté... "Patience" - merci.'


async def test_head_teacher_gets_404_on_another_schools_draft_and_sees_none_of_its_counts(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await _school_families(factory)
    async with api(settings) as client:
        await _signed_in(client, factory, "head_y@test.fr")
        other = await _draft_from_template(client)
    async with api(settings) as client:
        await _signed_in(client, factory, "head_x@test.fr")
        for step in ("audience", "canaux", "verifier", "demande"):
            refused = await client.get(f"/console/rediger/{other}/{step}")
            assert refused.status_code == 404, step
            assert "introuvable" in refused.text.lower() and "Org 0670200" not in refused.text
        count = await client.get(
            f"/console/rediger/{other}/compte?organisation_ids={world.school_y}"
        )
        assert count.status_code == 404
        home = await client.get("/console/")
        assert "Org 0670200" not in home.text
        own = await _draft_from_template(client)
        audience_path = f"/console/rediger/{own}/audience"
        audience = await client.get(audience_path)
        assert "Org 0670200" not in audience.text and "Org 0670100" in audience.text
        assert "3 personnes" in audience.text and "7 personnes" not in audience.text
        stolen = await _post(
            client,
            audience_path,
            {"organisation_ids": [str(world.school_y)]},
            from_page=audience_path,
        )
        assert stolen.status_code == 404
        assert "Organisation introuvable dans votre périmètre." in stolen.text
        peek = await client.get(f"/console/rediger/{own}/compte?organisation_ids={world.school_y}")
        assert peek.status_code == 404 and "7" not in peek.text
        check = await client.get(f"/console/rediger/{own}/verifier")
        assert "Org 0670200" not in check.text and "Org 67" not in check.text
        send = await _post(
            client,
            f"/console/rediger/{other}/envoyer",
            {},
            from_page=f"/console/rediger/{own}/verifier",
        )
        assert send.status_code == 404
    assert (await _row(factory, other)).status == BroadcastStatus.draft


async def test_bad_input_is_answered_in_french_and_nothing_is_kept(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await _school_families(factory)
    async with api(settings) as client:
        await _signed_in(client, factory, "head_x@test.fr")
        missing = await _post(client, TEMPLATE, {"v_etablissement": "X"}, from_page=TEMPLATE)
        assert missing.status_code == 422 and "Valeur manquante" in missing.text
        assert 'role="alert"' in missing.text and 'value="X"' in missing.text
        empty = await _post(
            client,
            "/console/rediger/texte",
            {"title": "", "message": ""},
            from_page="/console/rediger/texte",
        )
        assert empty.status_code == 422 and "Titre" in empty.text
        unknown = await client.get("/console/rediger/modele/pas-un-modele")
        assert unknown.status_code == 404 and "Modèle d&#39;avis inconnu" in unknown.text
        broadcast_id = await _draft_from_template(client)
        audience_path = f"/console/rediger/{broadcast_id}/audience"
        nobody = await _post(client, audience_path, {"levels": "6e"}, from_page=audience_path)
        assert nobody.status_code == 422 and "Organisations" in nobody.text
        level = await _post(
            client,
            audience_path,
            {"organisation_ids": [str(world.school_x)], "levels": "sixième"},
            from_page=audience_path,
        )
        assert level.status_code == 422
        assert "Niveaux : niveau inconnu « sixième » : vouliez-vous dire « 6e » ?" in level.text
        channels_path = f"/console/rediger/{broadcast_id}/canaux"
        no_channel = await _post(client, channels_path, {"when": "now"}, from_page=channels_path)
        assert no_channel.status_code == 422 and "Canaux" in no_channel.text
        past = await _post(
            client,
            channels_path,
            {"channels": ["email"], "when": "later", "scheduled_at": "2020-01-01T10:00"},
            from_page=channels_path,
        )
        assert past.status_code == 422 and "l&#39;heure programmée doit être à venir" in past.text
        no_time = await _post(
            client, channels_path, {"channels": ["email"], "when": "later"}, from_page=channels_path
        )
        assert no_time.status_code == 422 and "Heure d&#39;envoi" in no_time.text
        no_token = await client.post(f"/console/rediger/{broadcast_id}/envoyer", data={})
        assert no_token.status_code == 403 and "Ce formulaire a expiré" in no_token.text
    async with factory() as session:
        assert await session.scalar(select(func.count()).select_from(Notice)) == 1
    assert (await _row(factory, broadcast_id)).channels == ["email", "sms"]


async def test_a_large_send_asks_for_the_typed_number(
    settings: Settings, factory: SessionFactory
) -> None:
    await _school_families(factory)
    typed = settings.model_copy(update={"console_confirm_typed_above": 2})
    async with api(typed) as client:
        await _signed_in(client, factory, "head_x@test.fr")
        broadcast_id = await _draft_from_template(client, fast=True)
        check_path = f"/console/rediger/{broadcast_id}/verifier"
        check = await client.get(check_path)
        assert "saisissez le nombre de destinataires : 3" in check.text
        wrong = await _post(
            client,
            f"/console/rediger/{broadcast_id}/envoyer",
            {"nombre": "4"},
            from_page=check_path,
        )
        assert (
            wrong.status_code == 422 and "Le nombre saisi ne correspond pas : tapez 3" in wrong.text
        )
        assert (await _row(factory, broadcast_id)).status == BroadcastStatus.draft
        right = await _post(
            client,
            f"/console/rediger/{broadcast_id}/envoyer",
            {"nombre": " 3 "},
            from_page=check_path,
        )
        assert right.status_code == 303
    assert (await _row(factory, broadcast_id)).status == BroadcastStatus.queued


async def test_an_officers_academie_wide_send_waits_for_approval(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await _school_families(factory)
    async with api(settings) as client:
        await _signed_in(client, factory, "officer@test.fr")
        answer = await _post(
            client,
            TEMPLATE,
            {
                "organisation_id": str(world.academie),
                "v_etablissement": "Académie",
                "v_depuis": "8 h",
            },
            from_page=TEMPLATE,
        )
        broadcast_id = int(answer.headers["location"].split("/")[3])
        check_path = f"/console/rediger/{broadcast_id}/verifier"
        check = await client.get(check_path)
        assert (
            "Approbation nécessaire" in check.text
            and "L&#39;audience dépasse un établissement" in check.text
        )
        assert "Demander l&#39;approbation pour 10 e-mails" in check.text
        sent = await _post(
            client, f"/console/rediger/{broadcast_id}/envoyer", {}, from_page=check_path
        )
        done = await client.get(sent.headers["location"])
        assert "Envoi en attente d&#39;approbation" in done.text
    assert (await _row(factory, broadcast_id)).status == BroadcastStatus.pending_approval


async def test_an_update_of_an_open_incident_drafts_its_send(
    settings: Settings, factory: SessionFactory
) -> None:
    await _school_families(factory)
    async with api(settings) as client:
        await _signed_in(client, factory, "head_x@test.fr")
        await _draft_from_template(client)
        start = await client.get("/console/rediger")
        found = re.search(r'href="/console/rediger/incident/(\d+)"', start.text)
        assert found, start.text
        path = f"/console/rediger/incident/{found.group(1)}"
        answer = await _post(
            client,
            path,
            {"status": "resolved", "message": "L'ENT fonctionne de nouveau."},
            from_page=path,
        )
        assert answer.status_code == 303
        broadcast_id = int(answer.headers["location"].split("/")[3])
        resolved_again = await _post(
            client, path, {"status": "resolved", "message": "Encore."}, from_page="/console/rediger"
        )
        assert resolved_again.status_code == 409 and "déjà résolu" in resolved_again.text
    row = await _row(factory, broadcast_id)
    async with factory() as session:
        update = await session.get(NoticeUpdate, row.update_id)
    assert update is not None and update.message == "L'ENT fonctionne de nouveau."


def test_every_french_sentence_of_the_redaction_pages_has_its_english() -> None:
    sources = [TEMPLATES / "_steps.html", *sorted(TEMPLATES.glob("compose_*.html"))]
    written = [
        match.group(2).replace("\\'", "'")
        for source in sources
        for match in re.finditer(r'_\((["\'])(.*?)(?<!\\)\1', source.read_text())
    ]
    spoken = [
        *check.ROLE_LABELS.values(),
        *check.SCHOOL_TYPE_LABELS.values(),
        *check.NORMALISED.values(),
        *(word for pair in check.CHANNEL_WORDS.values() for word in pair),
        *REASON_SENTENCES_FR.values(),
    ]
    assert len(written) > 80
    assert [text for text in written + spoken if text not in ENGLISH] == []


async def test_an_english_speaking_operator_reads_the_check_page_in_english(
    settings: Settings, factory: SessionFactory
) -> None:
    await _school_families(factory)
    async with api(settings) as client:
        await _signed_in(client, factory, "head_x@test.fr")
        async with transaction(factory) as session:
            await session.execute(
                update(Operator).where(col(Operator.email) == "head_x@test.fr").values(locale="en")
            )
        broadcast_id = await _draft_from_template(client, fast=True)
        check_page = await client.get(f"/console/rediger/{broadcast_id}/verifier")
    assert "Check before sending" in check_page.text and "Send 3 emails" in check_page.text
    assert "Recipients per channel" in check_page.text


async def test_a_send_for_later_at_the_configured_rate_is_scheduled(
    settings: Settings, factory: SessionFactory
) -> None:
    await _school_families(factory)
    paced = settings.model_copy(update={"channel_rates": {"email": RateLimit(rate=0.02)}})
    async with api(paced) as client:
        await _signed_in(client, factory, "head_x@test.fr")
        broadcast_id = await _draft_from_template(client)
        channels_path = f"/console/rediger/{broadcast_id}/canaux"
        year = next_june()
        later = {"channels": ["email"], "when": "later", "scheduled_at": f"{year}-06-01T09:30"}
        answer = await _post(client, channels_path, later, from_page=channels_path)
        assert answer.status_code == 303, answer.text
        check_path = f"/console/rediger/{broadcast_id}/verifier"
        check_page = await client.get(check_path)
        assert "Programmer 3 e-mails" in check_page.text
        assert "Durée prévue : 2 min" in check_page.text  # 3 e-mails at one every 50 s
        assert "programmé le" in check_page.text and "9:30" in check_page.text.replace(" h ", ":")
        sent = await _post(
            client, f"/console/rediger/{broadcast_id}/envoyer", {}, from_page=check_path
        )
        done = await client.get(sent.headers["location"])
    assert "Envoi programmé" in done.text
    assert f"L&#39;envoi partira le 1 juin {year} à 9 h 30." in done.text
    row = await _row(factory, broadcast_id)
    assert row.status == BroadcastStatus.scheduled and row.scheduled_at is not None
    assert row.scheduled_at.hour == 7  # 9:30 in Paris in June is 7:30 UTC


async def test_a_saved_audience_is_offered_and_copied_into_the_draft(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await _school_families(factory)
    await add_contacts(factory, guardians(world.school_x, 2, start=50, level="3e"))
    async with api(settings) as client:
        created = await client.post(
            "/api/v1/audiences",
            headers=auth(world.keys["head_x"]),
            json={
                "organisation_id": world.school_x,
                "name": "Familles de 3e",
                "criteria": {"organisation_ids": [world.school_x], "levels": ["3e"]},
            },
        )
        assert created.status_code == 201, created.text
        await _signed_in(client, factory, "head_x@test.fr")
        broadcast_id = await _draft_from_template(client)
        audience_path = f"/console/rediger/{broadcast_id}/audience"
        audience = await client.get(audience_path)
        assert "Familles de 3e" in audience.text and "5 personnes" in audience.text
        saved_id = str(created.json()["id"])
        chosen = await _post(
            client, audience_path, {"saved_audience_id": saved_id}, from_page=audience_path
        )
        assert chosen.status_code == 303
        again = await client.get(audience_path)
        assert "2 personnes" in again.text
        count = await client.get(
            f"/console/rediger/{broadcast_id}/compte",
            params={"organisation_ids": world.school_x, "levels": "6e"},
        )
    assert count.json()["contacts"] == 3 and count.json()["text"].startswith("3 personnes")
    row = await _row(factory, broadcast_id)
    assert row.audience["levels"] == ["3e"]


async def test_odd_input_on_every_step_is_a_french_refusal_never_a_server_error(
    settings: Settings, factory: SessionFactory
) -> None:
    await _school_families(factory)
    async with api(settings) as client:
        await _signed_in(client, factory, "head_x@test.fr")
        broadcast_id = await _draft_from_template(client)
        base = f"/console/rediger/{broadcast_id}"
        posts: list[tuple[str, dict[str, str | list[str]]]] = [
            (TEMPLATE, {"organisation_id": "abc", "v_etablissement": "X", "v_depuis": "8 h"}),
            (TEMPLATE, {"organisation_id": "9" * 30, "v_etablissement": "X", "v_depuis": "8 h"}),
            (TEMPLATE, {"v_etablissement": "X" * 600, "v_depuis": "8 h"}),
            (
                "/console/rediger/texte",
                {"organisation_id": "1", "title": "Ab\x00c", "message": "m"},
            ),
            ("/console/rediger/incident/999999", {"status": "resolved", "message": "m"}),
            ("/console/rediger/incident/1", {"status": "bizarre", "message": "m"}),
            (f"{base}/audience", {"organisation_ids": ["abc"]}),
            (f"{base}/audience", {"saved_audience_id": "999999"}),
            (f"{base}/audience", {"organisation_ids": ["1"], "school_types": ["caserne"]}),
            (f"{base}/canaux", {"channels": ["fax"]}),
            (f"{base}/canaux", {"channels": ["email"], "priority": "bizarre"}),
            (f"{base}/canaux", {"channels": ["email"], "when": "later", "scheduled_at": "demain"}),
            ("/console/rediger/abc/envoyer", {}),
        ]
        for path, data in posts:
            answer = await _post(client, path, data, from_page="/console/rediger")
            assert 400 <= answer.status_code < 500, (path, data, answer.status_code)
            assert 'role="alert"' in answer.text, (path, data)
        for path in (f"{base}/compte?organisation_ids=abc", f"{base}/compte?levels=zz"):
            answer = await client.get(path)
            assert answer.status_code == 422 and answer.json()["error"].startswith("À corriger")
    assert (await _row(factory, broadcast_id)).status == BroadcastStatus.draft

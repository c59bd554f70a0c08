"""The send's page (issue 11, item 4) through the real app and real burst workers, on both
databases: figures, people and failures on the page, the progression JSON, the delivery search
(masked) and its paging, pause / resume / cancel after their confirmation page, "Envoyer la
suite" to the same addresses, the delivery report as CSV (RULES A7), and scope (RULES A1)."""

from __future__ import annotations

import csv
import html
import io
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from broadcast.accounts.models import Operator
from broadcast.broadcasts.models import Broadcast
from broadcast.core.db import SessionFactory, transaction
from broadcast.notices.models import Notice
from broadcast.sandbox.smtp import SmtpSink
from broadcast.sandbox.twilio import TwilioSandbox
from broadcast.settings import Settings
from tests.console.console_support import csrf_of, give_password, post_form, sign_in
from tests.sms_support import families, running_sandbox, with_sms
from tests.support import (
    World,
    add_contacts,
    api,
    build_world,
    guardians,
    run_burst_workers,
    send_broadcast,
)


@pytest.fixture
async def sandbox() -> AsyncIterator[TwilioSandbox]:
    async with running_sandbox() as server:
        server.hold_callbacks = True
        yield server


def seen(answer: httpx.Response) -> str:
    """The page's text as a person reads it (entities such as &#39; decoded)."""
    return html.unescape(answer.text)


async def _status(factory: SessionFactory, broadcast_id: int) -> str:
    async with factory() as session:
        broadcast = await session.get(Broadcast, broadcast_id)
        assert broadcast is not None
        return broadcast.status


async def _school_x_send(
    client: httpx.AsyncClient, world: World, channels: list[str] | None = None
) -> int:
    draft = await send_broadcast(
        client,
        world.keys["head_x"],
        world.school_x,
        {"organisation_ids": [world.school_x]},
        channels,
    )
    return int(draft["id"])


async def _signed_in(client: httpx.AsyncClient, factory: SessionFactory, email: str) -> None:
    credentials = await give_password(factory, email, with_totp=email.startswith("officer"))
    assert (await sign_in(client, credentials)).status_code == 303


async def test_the_page_shows_figures_people_failures_and_masked_deliveries(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 5))
    sink.reject_address("parent3@familles.fr", 550, "5.1.1 Boîte inconnue")
    async with api(settings) as client:
        broadcast_id = await _school_x_send(client, world)
        await run_burst_workers(settings)
        await _signed_in(client, factory, "head_x@test.fr")
        page = await client.get(f"/console/envois/{broadcast_id}")
        assert page.status_code == 200
        text = seen(page)
        assert "ENT indisponible" in text and "Terminé" in text
        assert "5 / 5 (100 %), 1 en échec" in text
        assert "Créé par head_x" in text
        assert "Boîte inconnue" in text  # the failure, by its reason
        assert "5 envois trouvés" in text
        assert "parent0@familles.fr" not in text and "p***0@f***.fr" in text

        found = await client.get(
            f"/console/envois/{broadcast_id}", params={"adresse": " Parent3@Familles.fr "}
        )
        assert "1 envoi trouvé" in seen(found) and "p***3@f***.fr" in seen(found)
        assert "p***0@f***.fr" not in seen(found)
        partial = await client.get(f"/console/envois/{broadcast_id}", params={"adresse": "parent"})
        assert "Aucun envoi trouvé." in seen(partial)  # a part of an address finds nothing
        failed = await client.get(f"/console/envois/{broadcast_id}", params={"statut": "failed"})
        assert "1 envoi trouvé" in seen(failed)

        progression = await client.get(f"/console/envois/{broadcast_id}/progression")
        assert progression.status_code == 200
        body = progression.json()
        assert body["status"] == "completed" and body["final"] is True
        assert "5 / 5 (100 %)" in body["html"]
        assert body["announcement"] == "Terminé : 5 messages partis sur 5."


async def test_deliveries_are_paged(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 55))
    async with api(settings) as client:
        broadcast_id = await _school_x_send(client, world)
        await run_burst_workers(settings)
        await _signed_in(client, factory, "head_x@test.fr")
        first = await client.get(f"/console/envois/{broadcast_id}")
        assert "Page 1 sur 2" in seen(first) and "Page suivante" in seen(first)
        assert seen(first).count("@f***.fr") == 50
        second = await client.get(f"/console/envois/{broadcast_id}", params={"page": 2})
        assert "Page 2 sur 2" in seen(second) and "Page précédente" in seen(second)
        assert seen(second).count("@f***.fr") == 5
        beyond = await client.get(f"/console/envois/{broadcast_id}", params={"page": 9})
        assert "Page 2 sur 2" in seen(beyond)
        bad = await client.get(f"/console/envois/{broadcast_id}", params={"page": "deux"})
        assert bad.status_code == 422 and "page" in seen(bad)
        nul = await client.get(f"/console/envois/{broadcast_id}", params={"adresse": "a\x00b"})
        assert nul.status_code == 422 and "adresse" in seen(nul)


async def test_pause_resume_and_cancel_after_their_confirmation_page(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 3))
    async with api(settings) as client:
        broadcast_id = await _school_x_send(client, world)  # queued; no worker runs yet
        await _signed_in(client, factory, "head_x@test.fr")
        url = f"/console/envois/{broadcast_id}"
        page = await client.get(url)
        assert "Suspendre l'envoi" in seen(page) and "Reprendre l'envoi" not in seen(page)

        asked = await client.get(f"{url}/suspendre")
        assert asked.status_code == 200 and "Suspendre l'envoi ?" in seen(asked)
        assert await _status(factory, broadcast_id) == "queued"  # asking changes nothing
        without_token = await client.post(f"{url}/suspendre", data={})
        assert without_token.status_code == 403 and "Ce formulaire a expiré" in seen(without_token)
        paused = await post_form(client, f"{url}/suspendre", {})
        assert paused.status_code == 303 and paused.headers["location"] == url
        assert await _status(factory, broadcast_id) == "paused"
        again = await post_form(client, f"{url}/suspendre", {}, from_page=url)
        assert again.status_code == 409 and "seule une diffusion en file" in seen(again)

        resumed = await post_form(client, f"{url}/reprendre", {})
        assert resumed.status_code == 303
        assert await _status(factory, broadcast_id) == "queued"

        cancelled = await post_form(client, f"{url}/annuler", {})
        assert cancelled.status_code == 303
        assert await _status(factory, broadcast_id) == "cancelled"
        assert "Annulé" in seen(await client.get(url))
        late = seen(await client.get(f"{url}/suspendre"))
        assert "Cette action n'est plus possible : l'envoi est « Annulé »." in late
        assert 'method="post" action="/console/envois/' not in late
        assert (await client.get(f"{url}/effacer")).status_code == 404
        await run_burst_workers(settings)
    assert sink.messages == []


async def test_a_viewer_sees_the_page_but_no_control(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 2))
    async with api(settings) as client:
        broadcast_id = await _school_x_send(client, world)
        await _signed_in(client, factory, "viewer_x@test.fr")
        page = await client.get(f"/console/envois/{broadcast_id}")
        assert page.status_code == 200 and "Suspendre l'envoi" not in seen(page)
        refused = await client.post(
            f"/console/envois/{broadcast_id}/annuler", data={"csrf": csrf_of(page)}
        )
        assert refused.status_code == 403
        assert "Votre rôle ne permet pas cette action." in seen(refused)
    assert await _status(factory, broadcast_id) == "queued"


async def test_the_follow_up_goes_to_the_same_addresses_with_the_notice_resolved(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 3))
    async with api(settings) as client:
        broadcast_id = await _school_x_send(client, world)
        await run_burst_workers(settings)
        await add_contacts(factory, guardians(world.school_x, 1, start=10))  # after: not reached
        sink.clear()
        await _signed_in(client, factory, "head_x@test.fr")
        url = f"/console/envois/{broadcast_id}"
        assert "Envoyer la suite" in seen(await client.get(url))
        form = await client.get(f"{url}/suite")
        assert "Le problème est résolu" in seen(form)
        assert "Envoyer la suite à 3 destinataires" in seen(form)
        empty = await post_form(client, f"{url}/suite", {"message": "  "})
        assert empty.status_code == 422
        assert "Écrivez le message de la suite" in seen(empty)
        sent = await post_form(
            client, f"{url}/suite", {"message": "L'ENT fonctionne de nouveau. Merci."}
        )
        assert sent.status_code == 303
        follow_up_id = int(sent.headers["location"].rsplit("/", 1)[1])
        await run_burst_workers(settings)
    async with factory() as session:
        follow_up = await session.get(Broadcast, follow_up_id)
        assert follow_up is not None and follow_up.follow_up_of_id == broadcast_id
        assert follow_up.status == "completed"
        notice = await session.get(Notice, follow_up.notice_id)
        assert notice is not None and notice.status == "resolved"
    assert sorted(m.to for m in sink.messages) == [f"parent{n}@familles.fr" for n in range(3)]
    assert all(
        m.subject.endswith("Résolu : L'ENT fonctionne de nouveau. Merci.") for m in sink.messages
    )


async def test_the_report_is_a_guarded_csv_of_masked_addresses(
    settings: Settings, factory: SessionFactory, sink: SmtpSink, sandbox: TwilioSandbox
) -> None:
    sms_settings = with_sms(settings, sandbox)
    world = await build_world(factory)
    await add_contacts(factory, families(world.school_x, 2))
    async with api(sms_settings) as client:
        broadcast_id = await _school_x_send(client, world, ["email", "sms"])
        await run_burst_workers(sms_settings)
        await _signed_in(client, factory, "head_x@test.fr")
        report = await client.get(f"/console/envois/{broadcast_id}/rapport.csv")
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/csv")
    assert f'filename="envoi-{broadcast_id}.csv"' in report.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(report.text.lstrip("\ufeff"))))
    assert rows[0] == ["canal", "adresse", "statut", "tentatives", "erreur", "mise à jour (Paris)"]
    assert rows[1][5].endswith(("+01:00", "+02:00"))  # Europe/Paris
    by_channel = sorted((row[0], row[1], row[2]) for row in rows[1:])
    assert by_channel == [
        ("email", "p***0@f***.fr", "envoyé"),
        ("email", "p***1@f***.fr", "envoyé"),
        ("sms", "'+336******00", "envoyé"),  # RULES A7: a cell starting with + is guarded
        ("sms", "'+336******01", "envoyé"),
    ]
    assert "+33600000000" not in report.text


async def test_head_of_y_gets_404_on_every_page_of_a_send_of_x(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 2))
    async with api(settings) as client:
        broadcast_id = await _school_x_send(client, world)
        await run_burst_workers(settings)
        await _signed_in(client, factory, "head_y@test.fr")
        url = f"/console/envois/{broadcast_id}"
        for path in ("", "/progression", "/rapport.csv", "/suite", "/suspendre", "/annuler"):
            answer = await client.get(url + path)
            assert answer.status_code == 404, path
            assert "ENT indisponible" not in seen(answer)
        token = csrf_of(await client.get("/console/"))
        for path in ("/annuler", "/suite"):
            answer = await client.post(url + path, data={"csrf": token, "message": "Fini"})
            assert answer.status_code == 404, path
        home = await client.get("/console/")
        assert "ENT indisponible" not in seen(home)
    assert await _status(factory, broadcast_id) == "completed"


async def test_an_operator_who_chose_english_reads_the_page_in_english(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 2))
    async with transaction(factory) as session:
        head = await session.scalar(select(Operator).where(col(Operator.email) == "head_x@test.fr"))
        assert head is not None
        head.locale = "en"
    async with api(settings) as client:
        broadcast_id = await _school_x_send(client, world)
        await _signed_in(client, factory, "head_x@test.fr")
        page = seen(await client.get(f"/console/envois/{broadcast_id}"))
        assert "Pause the send" in page and "Failures by reason" in page
        assert "Suspendre l'envoi" not in page
        progression = (await client.get(f"/console/envois/{broadcast_id}/progression")).json()
        assert progression["announcement"] == "Queued: about 0% of messages sent."

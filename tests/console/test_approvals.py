"""Approvals in the console (issue 11, item 5; RULES A6) through the real app and burst workers,
on both databases: the inbox, the approval page with the whole check and the messages as they
will be seen, Approuver and Refuser (a reason required), the requester never approving his own,
scope (RULES A1), and the approvers' email pointing at the page."""

from __future__ import annotations

import html

import httpx

from broadcast.broadcasts.models import Broadcast
from broadcast.core.db import SessionFactory
from broadcast.sandbox.smtp import SmtpSink
from broadcast.settings import ApprovalThreshold, Settings
from tests.console.console_support import give_password, post_form, sign_in
from tests.support import World, add_contacts, api, build_world, guardians, run_burst_workers
from tests.support import send_broadcast as api_send


def seen(answer: httpx.Response) -> str:
    return html.unescape(answer.text)


def strict(settings: Settings) -> Settings:
    """A school's send of more than two recipients waits for a second operator."""
    thresholds = {"etablissement": ApprovalThreshold(recipients=2)}
    return settings.model_copy(update={"approval_thresholds": thresholds})


async def _status(factory: SessionFactory, broadcast_id: int) -> Broadcast:
    async with factory() as session:
        broadcast = await session.get(Broadcast, broadcast_id)
        assert broadcast is not None
        return broadcast


async def _waiting_send_of_x(client: httpx.AsyncClient, world: World) -> int:
    draft = await api_send(
        client, world.keys["head_x"], world.school_x, {"organisation_ids": [world.school_x]}
    )
    return int(draft["id"])


async def _sign_in(client: httpx.AsyncClient, factory: SessionFactory, name: str) -> None:
    credentials = await give_password(factory, f"{name}@test.fr", with_totp=name == "officer")
    assert (await sign_in(client, credentials)).status_code == 303


async def test_the_officer_sees_the_check_refuses_without_reason_then_approves(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    waiting = strict(settings)
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 3))
    async with api(waiting) as client:
        broadcast_id = await _waiting_send_of_x(client, world)
        assert (await _status(factory, broadcast_id)).status == "pending_approval"
        await _sign_in(client, factory, "officer")
        inbox = await client.get("/console/approbations")
        assert inbox.status_code == 200
        assert f'href="/console/approbations/{broadcast_id}"' in inbox.text
        url = f"/console/approbations/{broadcast_id}"
        assert f'href="{url}"' in (await client.get("/console/")).text  # waiting for me
        check = seen(await client.get(url))
        assert "head_x demande à envoyer « ENT indisponible » à 3 destinataires" in check
        assert "Le nombre de destinataires dépasse le seuil fixé" in check
        assert '<p class="subject">[Collège Org 0670100' in check  # the email's subject
        assert "(lien de désinscription propre à chaque destinataire)" in check
        assert "L'ENT est indisponible ce matin." in check  # the message as families read it
        assert "Approuver et envoyer à 3 destinataires" in check

        empty = await post_form(client, f"{url}/refuser", {"motif": " "}, from_page=url)
        assert empty.status_code == 422
        assert "Indiquez le motif du refus" in seen(empty)
        assert (await _status(factory, broadcast_id)).status == "pending_approval"

        approved = await post_form(client, f"{url}/approuver", {}, from_page=url)
        assert approved.status_code == 303
        assert approved.headers["location"] == f"/console/envois/{broadcast_id}"
        assert (await _status(factory, broadcast_id)).status == "queued"
        await run_burst_workers(waiting)
        page = seen(await client.get(f"/console/envois/{broadcast_id}"))
        assert "Créé par head_x" in page and "approuvé par officer" in page
    families = sorted(m.to for m in sink.messages if "familles" in m.to)
    assert families == [f"parent{n}@familles.fr" for n in range(3)]


async def test_a_refusal_keeps_its_reason_and_nothing_goes_out(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    waiting = strict(settings)
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 3))
    async with api(waiting) as client:
        broadcast_id = await _waiting_send_of_x(client, world)
        await _sign_in(client, factory, "officer")
        url = f"/console/approbations/{broadcast_id}"
        refused = await post_form(
            client, f"{url}/refuser", {"motif": "Message à reformuler"}, from_page=url
        )
        assert refused.status_code == 303
        found = await _status(factory, broadcast_id)
        assert found.status == "rejected" and found.rejection_reason == "Message à reformuler"
        page = seen(await client.get(f"/console/envois/{broadcast_id}"))
        assert "refusé par officer : « Message à reformuler »" in page
        assert "Cet envoi n'attend plus d'approbation." in seen(await client.get(url))
        await run_burst_workers(waiting)
    assert [m.to for m in sink.messages if "familles" in m.to] == []


async def test_a_head_teacher_cannot_approve_his_own_send(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    waiting = strict(settings)
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 3))
    async with api(waiting) as client:
        broadcast_id = await _waiting_send_of_x(client, world)
        await _sign_in(client, factory, "head_x")
        inbox = seen(await client.get("/console/approbations"))
        assert "Mes demandes en attente" in inbox
        url = f"/console/approbations/{broadcast_id}"
        page = seen(await client.get(url))
        assert "Vous avez demandé cet envoi" in page and "Approuver et envoyer" not in page
        own = await post_form(client, f"{url}/approuver", {}, from_page=url)
        assert own.status_code == 403
        assert "Vous avez demandé cet envoi : un autre opérateur doit l'approuver" in seen(own)
    assert (await _status(factory, broadcast_id)).status == "pending_approval"


async def test_head_of_y_gets_404_on_the_approval_of_a_send_of_x(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    waiting = strict(settings)
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 3))
    async with api(waiting) as client:
        broadcast_id = await _waiting_send_of_x(client, world)
        await _sign_in(client, factory, "head_y")
        url = f"/console/approbations/{broadcast_id}"
        assert (await client.get(url)).status_code == 404
        approve = await post_form(client, f"{url}/approuver", {}, from_page="/console/")
        assert approve.status_code == 404
        inbox = seen(await client.get("/console/approbations"))
        assert "ENT indisponible" not in inbox
    assert (await _status(factory, broadcast_id)).status == "pending_approval"


async def test_the_approvers_email_links_to_the_approval_page(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    waiting = strict(settings)
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 3))
    async with api(waiting) as client:
        broadcast_id = await _waiting_send_of_x(client, world)
        await run_burst_workers(waiting)
    told = {m.to: m for m in sink.messages}
    assert set(told) == {"officer@test.fr", "admin@test.fr"}  # not head_x, who asked
    text = told["officer@test.fr"].message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert f"https://broadcast.test/console/approbations/{broadcast_id}" in text
    assert "/api/v1/" not in text

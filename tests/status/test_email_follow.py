"""Following a status page by email, end to end through the aiosmtpd sink: the page's form, the
confirmation email and its one-time link, the followers' broadcast received once by a family
following both the académie and its school, one-click unsubscribe (RULES E1)."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from broadcast.core.db import SessionFactory, transaction
from broadcast.directory.models import Contact, ContactPoint, Suppression
from broadcast.sandbox.smtp import CapturedMessage, SmtpSink
from broadcast.settings import Settings, SmtpRelay
from broadcast.status.models import EmailFollowRequest
from tests.status.status_support import post_notice, post_update
from tests.support import api, auth, build_world, run_burst_workers, wait_until

FAMILY = "famille.martin@exemple.fr"
LINK = re.compile(r"https://broadcast\.test(/follow/[A-Za-z0-9_-]+)")


def _text(message: CapturedMessage) -> str:
    part = message.message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


async def _ask(
    client: httpx.AsyncClient, code: str, email: str, locale: str = "fr"
) -> httpx.Response:
    return await client.post(f"/status/{code}/follow", data={"email": email, "locale": locale})


async def _follow(client: httpx.AsyncClient, sink: SmtpSink, code: str, email: str) -> str:
    """Ask, read the link in the confirmation email, open it, press its button."""
    before = len(sink.messages)
    asked = await _ask(client, code, email)
    assert asked.status_code == 202, asked.text
    await wait_until(lambda: len(sink.messages) > before, 5)
    match = LINK.search(_text(sink.messages[-1]))
    assert match is not None
    shown = await client.get(match.group(1))
    assert shown.status_code == 200 and "Confirmer l&#39;abonnement" in shown.text
    confirmed = await client.post(match.group(1))
    assert confirmed.status_code == 200, confirmed.text
    assert "Abonnement confirmé" in confirmed.text
    return match.group(1)


async def _followers(factory: SessionFactory) -> list[tuple[int, str]]:
    async with transaction(factory) as session:
        rows = await session.execute(
            select(Contact.organisation_id, ContactPoint.address)
            .join(ContactPoint, ContactPoint.contact_id == Contact.id)
            .where(Contact.role == "follower", ContactPoint.channel == "email")
            .order_by(Contact.organisation_id)
        )
        return [(int(o), str(a)) for o, a in rows.all()]


async def test_the_page_offers_a_form_that_works_without_script(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    await build_world(factory)
    async with api(settings) as client:
        page = await client.get("/status/0670100V")
        asked = await _ask(client, "0670100V", "  Famille.Martin@exemple.fr ")
    assert '<form class="email-follow" method="post" action="/status/0670100V/follow">' in page.text
    assert asked.status_code == 202
    assert "Un e-mail de confirmation vient d&#39;être envoyé à Famille.Martin@exemple.fr" in (
        asked.text
    )
    assert "set-cookie" not in asked.headers and asked.headers["cache-control"] == "no-store"
    [message] = sink.messages
    assert message.rcpt_tos == ["Famille.Martin@exemple.fr"]
    assert message.message["Subject"] == "Confirmez votre abonnement : Org 0670100V"
    assert "ignorez ce message : vous ne recevrez rien" in _text(message)
    assert await _followers(factory) == []  # nothing followed before confirmation


async def test_confirmation_link_works_once_and_a_get_changes_nothing(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    async with api(settings) as client:
        await _ask(client, "0670100V", FAMILY)
        link = LINK.search(_text(sink.messages[0]))
        assert link is not None
        await client.get(link.group(1))
        after_get = await _followers(factory)
        first = await client.post(link.group(1))
        again = await client.post(link.group(1))
        forged = await client.post("/follow/" + "A" * 43)
    assert after_get == []
    assert first.status_code == 200
    assert again.status_code == forged.status_code == 404
    assert "Ce lien de confirmation n&#39;est pas valable : il a déjà servi ou il a expiré." in (
        again.text
    )
    assert await _followers(factory) == [(world.school_x, FAMILY)]
    async with transaction(factory) as session:
        [request] = (await session.execute(select(EmailFollowRequest))).scalars().all()
    assert request.confirmed_at is not None and len(request.token_hash) == 64
    assert link.group(1).removeprefix("/follow/") not in request.token_hash


async def test_bad_addresses_unknown_pages_and_a_relay_down_get_french_pages(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    await build_world(factory)
    down = settings.model_copy(update={"smtp_relays": [SmtpRelay(host="127.0.0.1", port=1)]})
    async with api(settings) as client:
        bad = await _ask(client, "0670100V", "pas-une-adresse")
        empty = await client.post("/status/0670100V/follow", data={})
        unknown = await _ask(client, "0000000A", FAMILY)
        english = await _ask(client, "0670100V", "nope", locale="en")
    async with api(down) as client:
        unsent = await _ask(client, "0670100V", FAMILY)
    assert bad.status_code == empty.status_code == english.status_code == 422
    assert "Cette adresse e-mail n&#39;est pas valide" in bad.text
    assert "This email address is not valid" in english.text
    assert unknown.status_code == 404 and "Cette page d&#39;état des services n&#39;existe pas" in (
        unknown.text
    )
    assert unsent.status_code == 503
    assert "L&#39;e-mail de confirmation n&#39;a pas pu être envoyé" in unsent.text
    assert sink.messages == []
    async with transaction(factory) as session:
        assert (await session.execute(select(EmailFollowRequest))).first() is None


async def test_too_many_requests_for_one_address_are_refused(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    await build_world(factory)
    async with api(settings) as client:
        answers = [await _ask(client, "0670100V", "bombe@exemple.fr") for _ in range(4)]
    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    assert "Trop de demandes" in answers[3].text
    assert len(sink.messages) == 3


async def test_family_following_academie_and_school_gets_one_email_then_unsubscribes(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    officer, head_x = world.keys["officer"], world.keys["head_x"]
    async with api(settings) as client:
        await _follow(client, sink, "STRAS", FAMILY)
        await _follow(client, sink, "0670100V", FAMILY)
        await _follow(client, sink, "0670100V", "voisin@exemple.fr")
        counts = await client.get(
            f"/api/v1/organisations/{world.school_x}/followers", headers=auth(head_x)
        )
        notice = await post_notice(client, officer, world.academie, "ENT indisponible")
        await post_update(client, officer, notice["id"], "identified", "Panne du fournisseur.")
        offer = await client.get(f"/api/v1/notices/{notice['id']}/followers", headers=auth(officer))
        draft = await client.post(
            f"/api/v1/notices/{notice['id']}/notify-followers", headers=auth(officer), json={}
        )
        confirmed = await client.post(
            f"/api/v1/broadcasts/{draft.json()['id']}/confirm", headers=auth(officer)
        )
        approved = await client.post(
            f"/api/v1/broadcasts/{draft.json()['id']}/approve", headers=auth(world.keys["admin"])
        )
        sent_before = len(sink.messages)
        await run_burst_workers(settings)
        received = sink.messages[sent_before:]
        audit = await client.get("/api/v1/audit", headers=auth(officer))

        assert sorted(a for m in received for a in m.rcpt_tos) == [FAMILY, "voisin@exemple.fr"]
        family = next(m for m in received if m.rcpt_tos == [FAMILY])
        unsubscribe = family.message["List-Unsubscribe"].strip("<>")
        clicked = await client.post(unsubscribe.removeprefix("https://broadcast.test"))
        after = await client.get(f"/api/v1/notices/{notice['id']}/followers", headers=auth(officer))

    assert counts.json() == {"organisation_id": world.school_x, "push": 0, "email": 2, "total": 2}
    assert offer.json()["offered"] is True and offer.json()["recipients"] == 2
    assert offer.json()["label"] == "Prévenir les abonnés (2)"
    assert offer.json()["action"] == f"/api/v1/notices/{notice['id']}/notify-followers"
    assert draft.status_code == 201, draft.text
    assert draft.json()["audience"]["roles"] == ["follower"]
    assert draft.json()["preview"]["channels"][0]["recipients"] == 2
    assert confirmed.status_code == 202, confirmed.text
    # académie-wide: a second operator approves it, as any broadcast above a school (RULES A6)
    assert confirmed.json()["status"] == "pending_approval"
    assert approved.status_code == 202, approved.text
    assert family.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Panne du fournisseur." in _text(family)
    assert "broadcast.send" in audit.text
    assert clicked.status_code == 200
    assert await _followers(factory) == [(world.school_x, "voisin@exemple.fr")]
    assert after.json()["recipients"] == 1 and after.json()["label"] == "Prévenir les abonnés (1)"
    async with transaction(factory) as session:
        [suppressed] = (await session.execute(select(Suppression))).scalars().all()
    assert (suppressed.channel, suppressed.address) == ("email", FAMILY)


async def test_a_schools_incident_reaches_its_followers_not_the_academies_nor_a_neighbours(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    head_x = world.keys["head_x"]
    async with api(settings) as client:
        await _follow(client, sink, "STRAS", "rectorat@exemple.fr")
        await _follow(client, sink, "0670200D", "lycee@exemple.fr")
        await _follow(client, sink, "0670100V", FAMILY)
        notice = await post_notice(client, head_x, world.school_x, "Cantine fermée")
        draft = await client.post(
            f"/api/v1/notices/{notice['id']}/notify-followers", headers=auth(head_x), json={}
        )
        await client.post(f"/api/v1/broadcasts/{draft.json()['id']}/confirm", headers=auth(head_x))
        sent_before = len(sink.messages)
        await run_burst_workers(settings)
        private = await post_notice(client, head_x, world.school_x, "Interne", public=False)
        refused = await client.post(
            f"/api/v1/notices/{private['id']}/notify-followers", headers=auth(head_x), json={}
        )
        offer = await client.get(f"/api/v1/notices/{private['id']}/followers", headers=auth(head_x))
    assert [m.rcpt_tos for m in sink.messages[sent_before:]] == [[FAMILY]]
    assert refused.status_code == 409
    assert refused.json()["error"]["message"].startswith("Seul un avis public")
    assert offer.json()["offered"] is False

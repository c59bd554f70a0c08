"""Contacts in the console (issue 11, item 8): the search finds only contacts within the
operator's scope, by name, school, role, level and class, addresses masked; a contact of
another school is 404; the opposition list adds an address with its reason and lifts it after
a confirmation page, both audited, the contact's page telling whether each channel is
reachable and why. Both databases."""

from __future__ import annotations

import html

from sqlalchemy import select
from sqlmodel import col

from broadcast.accounts.models import AuditEvent
from broadcast.core.db import SessionFactory, transaction
from broadcast.directory.models import Suppression
from broadcast.directory.service import suppress
from broadcast.directory.uai import make_uai
from broadcast.settings import Settings
from tests.console.console_support import give_password, post_form, sign_in
from tests.support import add_contacts, api, build_world, guardians

X, Y = make_uai("0670100"), make_uai("0670200")


async def test_the_search_shows_only_contacts_in_scope_with_masked_addresses(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    ours = await add_contacts(factory, guardians(world.school_x, 3))
    theirs = await add_contacts(factory, guardians(world.school_y, 2, start=50, level="5e"))
    head = await give_password(factory, "head_x@test.fr")
    officer = await give_password(factory, "officer@test.fr", with_totp=True)
    async with api(settings) as client:
        await sign_in(client, head)
        everyone = await client.get("/console/contacts")
        by_name = await client.get("/console/contacts", params={"nom": "g1"})
        by_class = await client.get(
            "/console/contacts", params={"classe": "6E A", "role": "guardian"}
        )
        teachers = await client.get("/console/contacts", params={"role": "teacher"})
        other_level = await client.get("/console/contacts", params={"niveau": "5e"})
        bad_role = await client.get("/console/contacts", params={"role": "martien"})
        own = await client.get(f"/console/contacts/{ours[0]}")
        other = await client.get(f"/console/contacts/{theirs[0]}")
    async with api(settings) as client:
        await sign_in(client, officer)
        wide = await client.get("/console/contacts", params={"etablissement": Y})
    assert everyone.status_code == 200
    text = html.unescape(everyone.text)
    assert "G0 P" in text and "G2 P" in text and "G50" not in text and Y not in text
    assert "p***0@f***.fr" in text and "parent0@familles.fr" not in text
    assert "G1 P" in by_name.text and "G0 P" not in by_name.text
    assert "G2 P" in by_class.text
    assert "Aucun contact ne correspond." in teachers.text
    assert "Aucun contact ne correspond." in other_level.text
    assert bad_role.status_code == 422 and "Rôle inconnu" in bad_role.text
    assert own.status_code == 200 and "p***0@f***.fr" in html.unescape(own.text)
    assert "aucune adresse" in own.text  # no mobile
    assert other.status_code == 404
    assert "G50 P" in wide.text and "G0 P" not in wide.text


async def test_an_address_is_put_on_the_opposition_list_and_lifted(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    ours = await add_contacts(factory, guardians(world.school_x, 1))
    await add_contacts(factory, guardians(world.school_y, 1, start=50))
    head = await give_password(factory, "head_x@test.fr")
    async with api(settings) as client:
        await sign_in(client, head)
        added = await post_form(
            client,
            "/console/opposition",
            {"adresse": "parent0@familles.fr", "motif": "Demande écrite de la famille"},
        )
        listed = await client.get("/console/opposition?fait=ajoutee")
        card = await client.get(f"/console/contacts/{ours[0]}")
        again = await post_form(
            client, "/console/opposition", {"adresse": "parent0@familles.fr", "motif": "Encore"}
        )
        other_school = await post_form(
            client, "/console/opposition", {"adresse": "parent50@familles.fr", "motif": "Non"}
        )
        unreadable = await post_form(
            client, "/console/opposition", {"adresse": "06 12", "motif": "Non"}
        )
        async with factory() as session:
            row = (await session.execute(select(Suppression))).scalar_one()
        confirm = await client.get(f"/console/opposition/{row.id}/lever")
        lifted = await post_form(
            client, f"/console/opposition/{row.id}/lever", {}, from_page="/console/opposition"
        )
        after = await client.get("/console/opposition")
        gone = await client.get(f"/console/opposition/{row.id}/lever")
    assert added.status_code == 303
    assert (row.channel, row.address, row.reason) == ("email", "parent0@familles.fr", "operator")
    assert row.detail == "Demande écrite de la famille"
    listed_text = html.unescape(listed.text)
    assert "p***0@f***.fr" in listed_text and "parent0@familles.fr" not in listed_text
    assert "Ajoutée par un opérateur : Demande écrite de la famille" in listed_text
    assert "plus aucun message ne lui sera envoyé" in listed_text
    assert "Sur la liste d'opposition" in html.unescape(card.text)
    assert again.status_code == 422 and "déjà sur la liste d'opposition" in html.unescape(
        again.text
    )
    assert other_school.status_code == 422
    assert "Aucun contact de votre périmètre" in html.unescape(other_school.text)
    assert unreadable.status_code == 422 and "Numéro de téléphone invalide." in unreadable.text
    assert confirm.status_code == 200 and "Lever l&#39;opposition" in confirm.text
    assert lifted.status_code == 303
    assert "Aucune adresse de votre périmètre" in html.unescape(after.text)
    assert gone.status_code == 404
    async with factory() as session:
        assert (await session.execute(select(Suppression))).first() is None
        actions = list(
            (
                await session.execute(
                    select(col(AuditEvent.action), col(AuditEvent.details)).where(
                        col(AuditEvent.action).startswith("contacts.suppression")
                    )
                )
            ).all()
        )
    assert [a for a, _ in actions] == ["contacts.suppression.add", "contacts.suppression.lift"]
    assert all(d["address"] == "p***0@f***.fr" for _, d in actions)


async def test_the_opposition_of_another_school_is_not_seen(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_y, 1, start=50))
    head = await give_password(factory, "head_x@test.fr")
    async with api(settings) as client:
        head_y = await give_password(factory, "head_y@test.fr")
        await sign_in(client, head_y)
        await post_form(
            client, "/console/opposition", {"adresse": "parent50@familles.fr", "motif": "STOP"}
        )
    async with factory() as session:
        row = (await session.execute(select(Suppression))).scalar_one()
    async with api(settings) as client:
        await sign_in(client, head)
        listing = await client.get("/console/opposition")
        lift = await client.get(f"/console/opposition/{row.id}/lever")
    assert "p***0@f***.fr" not in html.unescape(listing.text)
    assert lift.status_code == 404


async def test_a_platform_admin_sees_and_adds_oppositions_no_contact_holds(
    settings: Settings, factory: SessionFactory
) -> None:
    await build_world(factory)
    async with transaction(factory) as session:  # a hard bounce of a contact since deleted
        await suppress(session, "email", "ancien.parent@familles.fr", "hard_bounce", "550 5.1.1")
    officer = await give_password(factory, "officer@test.fr", with_totp=True)
    admin = await give_password(factory, "admin@test.fr", with_totp=True)
    async with api(settings) as client:
        await sign_in(client, officer)
        listing = await client.get("/console/opposition")
        refused = await post_form(
            client, "/console/opposition", {"adresse": "inconnu@familles.fr", "motif": "courrier"}
        )
    assert "a***t@f***.fr" not in html.unescape(listing.text)
    assert refused.status_code == 422
    assert "Aucun contact de votre périmètre n'a cette adresse." in html.unescape(refused.text)
    async with api(settings) as client:
        await sign_in(client, admin)
        added = await post_form(
            client, "/console/opposition", {"adresse": "inconnu@familles.fr", "motif": "courrier"}
        )
        assert added.status_code == 303
        shown = html.unescape((await client.get("/console/opposition")).text)
    assert "a***t@f***.fr" in shown and "i***u@f***.fr" in shown
    async with factory() as session:
        rows = (await session.execute(select(Suppression.address, Suppression.reason))).all()
    assert sorted(rows) == [
        ("ancien.parent@familles.fr", "hard_bounce"),
        ("inconnu@familles.fr", "operator"),
    ]

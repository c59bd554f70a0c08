"""Delivery mode "first available channel": per contact, the first channel of the broadcast's
order where the contact has an unsuppressed address; the preview counts what gets planned."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select
from sqlmodel import col

from broadcast.broadcasts.models import Broadcast, DeliveryMode
from broadcast.broadcasts.planner import plan_chunk
from broadcast.core.db import SessionFactory, transaction
from broadcast.deliveries.models import Delivery
from broadcast.directory.models import ContactPoint, ContactRole
from broadcast.directory.schemas import ContactIn
from broadcast.directory.service import suppress
from broadcast.notices.models import Notice, NoticeUpdate
from broadcast.settings import Settings
from tests.support import World, add_contacts, api, auth, build_world


def person(school: int, name: str, *, email: bool, mobile: str | None = None) -> ContactIn:
    return ContactIn(
        organisation_id=school,
        last_name=name,
        role=ContactRole.guardian,
        email=f"{name}@familles.fr" if email else None,
        mobile=mobile,
    )


async def seed_contacts(factory: SessionFactory, world: World) -> dict[str, int]:
    """push+email, email only, sms only, nothing, email+sms, two emails, suppressed email+sms."""
    school = world.school_x
    names = ["push_email", "email_only", "sms_only", "nothing", "email_sms", "two_emails"]
    rows = [
        person(school, "push_email", email=True),
        person(school, "email_only", email=True),
        person(school, "sms_only", email=False, mobile="+33611111103"),
        person(school, "nothing", email=False),
        person(school, "email_sms", email=True, mobile="+33611111105"),
        person(school, "two_emails", email=True),
        person(school, "bounced", email=True, mobile="+33611111107"),
    ]
    ids = dict(zip([*names, "bounced"], await add_contacts(factory, rows), strict=True))
    async with transaction(factory) as session:
        session.add(ContactPoint(contact_id=ids["push_email"], channel="push", address="41"))
        session.add(
            ContactPoint(contact_id=ids["two_emails"], channel="email", address="second@ecole.fr")
        )
        await suppress(session, "email", "bounced@familles.fr", reason="hard_bounce")
    return ids


async def planned(factory: SessionFactory, broadcast_id: int) -> set[tuple[str, str]]:
    async with transaction(factory) as session:
        rows = await session.execute(
            select(col(Delivery.channel), col(Delivery.address)).where(
                col(Delivery.broadcast_id) == broadcast_id
            )
        )
        return {(channel, address) for channel, address in rows.all()}


async def plan_all(factory: SessionFactory, broadcast_id: int, chunk_size: int = 2) -> None:
    """The planner, chunk by chunk (keyset paging), as the fan-out job runs it."""
    done = False
    while not done:
        async with transaction(factory) as session:
            broadcast = await session.get(Broadcast, broadcast_id)
            assert broadcast is not None
            await plan_chunk(session, broadcast, chunk_size)
            done = broadcast.fanout_done


async def test_push_then_email_then_sms_keeps_the_first_available_channel_per_contact(
    factory: SessionFactory,
) -> None:
    """Planned directly: push is not yet offered by the API."""
    world = await build_world(factory)
    await seed_contacts(factory, world)
    async with transaction(factory) as session:
        notice = Notice(organisation_id=world.school_x, title="Panne")
        session.add(notice)
        await session.flush()
        update = NoticeUpdate(notice_id=notice.id or 0, status="investigating", message="Panne")
        session.add(update)
        await session.flush()
        broadcast = Broadcast(
            notice_id=notice.id or 0,
            update_id=update.id or 0,
            organisation_id=world.school_x,
            audience={"organisation_ids": [world.school_x]},
            channels=["push", "email", "sms"],
            delivery_mode=DeliveryMode.first_available,
            status="sending",
        )
        session.add(broadcast)
        await session.flush()
        broadcast_id = broadcast.id or 0

    await plan_all(factory, broadcast_id)

    assert await planned(factory, broadcast_id) == {
        ("push", "41"),
        ("email", "email_only@familles.fr"),
        ("sms", "+33611111103"),
        ("email", "email_sms@familles.fr"),
        ("email", "two_emails@familles.fr"),
        ("email", "second@ecole.fr"),
        ("sms", "+33611111107"),
    }


async def test_email_then_sms_through_the_api_preview_counts_what_is_planned(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    await seed_contacts(factory, world)
    key = auth(world.keys["head_x"])
    async with api(settings) as client:
        notice = await client.post(
            "/api/v1/notices",
            headers=key,
            json={"organisation_id": world.school_x, "title": "Panne", "message": "Panne"},
        )
        draft = await client.post(
            "/api/v1/broadcasts",
            headers=key,
            json={
                "notice_id": notice.json()["id"],
                "audience": {"organisation_ids": [world.school_x]},
                "channels": ["email", "sms"],
                "delivery_mode": "first_available",
            },
        )
        assert draft.status_code == 201, draft.text
    assert draft.json()["delivery_mode"] == "first_available"
    preview = {c["channel"]: c for c in draft.json()["preview"]["channels"]}
    async with transaction(factory) as session:
        broadcast = await session.get(Broadcast, draft.json()["id"])
        assert broadcast is not None
        broadcast.status = "sending"

    await plan_all(factory, draft.json()["id"])

    rows = await planned(factory, draft.json()["id"])
    assert rows == {
        ("email", "push_email@familles.fr"),
        ("email", "email_only@familles.fr"),
        ("sms", "+33611111103"),
        ("email", "email_sms@familles.fr"),
        ("email", "two_emails@familles.fr"),
        ("email", "second@ecole.fr"),
        ("sms", "+33611111107"),
    }
    by_channel = Counter(channel for channel, _ in rows)
    assert {c: p["recipients"] for c, p in preview.items()} == {"email": 5, "sms": 2}
    assert by_channel == Counter({"email": 5, "sms": 2})
    assert sum(preview["sms"]["recipients_by_locale"].values()) == 2
    excluded = {c: (p["excluded"], p["served_earlier"]) for c, p in preview.items()}
    assert excluded == {
        "email": ({"suppressed": 1, "duplicate": 0, "no_address": 2, "left": 0}, 0),
        "sms": ({"suppressed": 0, "duplicate": 0, "no_address": 1, "left": 0}, 4),
    }
    for channel in preview.values():
        left_out = sum(channel["excluded"].values()) + channel["served_earlier"]
        assert channel["matched"] == channel["recipients"] + left_out


async def test_every_channel_mode_still_sends_on_each_channel(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    await seed_contacts(factory, world)
    key = auth(world.keys["head_x"])
    async with api(settings) as client:
        notice = await client.post(
            "/api/v1/notices",
            headers=key,
            json={"organisation_id": world.school_x, "title": "Panne", "message": "Panne"},
        )
        draft = await client.post(
            "/api/v1/broadcasts",
            headers=key,
            json={
                "notice_id": notice.json()["id"],
                "audience": {"organisation_ids": [world.school_x]},
                "channels": ["email", "sms"],
            },
        )
    assert draft.json()["delivery_mode"] == "every_channel"
    preview = {c["channel"]: c["recipients"] for c in draft.json()["preview"]["channels"]}
    assert preview == {"email": 5, "sms": 3}

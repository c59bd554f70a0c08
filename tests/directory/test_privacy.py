"""Personal data by the rules: retention purge (R2), access export and erasure (R3), audit of
every read and export (R4), CSV export guarded against formulas (A7); through the functions the
command line and the cron job call, the command line itself, and the API."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlmodel import col

from broadcast.accounts.models import AuditEvent
from broadcast.cli import main
from broadcast.core.db import SessionFactory, transaction
from broadcast.core.masking import mask_address
from broadcast.core.timeutil import utcnow
from broadcast.deliveries.models import Delivery
from broadcast.directory import privacy
from broadcast.directory.models import Contact, ContactPoint, ContactRole, Suppression
from broadcast.directory.privacy import contact_purge_cutoff, purge_due
from broadcast.directory.schemas import ContactIn
from broadcast.directory.service import suppress
from broadcast.jobs import BULK_QUEUE
from broadcast.sandbox.smtp import SmtpSink
from broadcast.settings import Settings, get_settings
from tests.conftest import TEST_SECRET
from tests.support import (
    World,
    add_contacts,
    api,
    auth,
    build_world,
    guardians,
    run_burst_workers,
    send_broadcast,
)
from workers.main import build_workers
from workers.resources import Resources
from workers.tasks import purge_personal_data

SHARED = "famille.muller@exemple.fr"


def parent(school: int, name: str, email: str, mobile: str | None = None) -> ContactIn:
    return ContactIn(
        organisation_id=school,
        first_name=name,
        last_name="Muller",
        role=ContactRole.guardian,
        level="6e",
        email=email,
        mobile=mobile,
    )


async def send_to_school(client: httpx.AsyncClient, world: World, school: str) -> int:
    key, school_id = world.keys[f"head_{school}"], getattr(world, f"school_{school}")
    draft = await send_broadcast(client, key, school_id, {"organisation_ids": [school_id]})
    return int(draft["id"])


async def audit_events(factory: SessionFactory, action: str) -> list[AuditEvent]:
    async with transaction(factory) as session:
        rows = await session.execute(
            select(AuditEvent).where(col(AuditEvent.action) == action).order_by(col(AuditEvent.id))
        )
        return list(rows.scalars())


async def deliveries(factory: SessionFactory) -> list[Delivery]:
    async with transaction(factory) as session:
        return list((await session.execute(select(Delivery).order_by(col(Delivery.id)))).scalars())


async def addresses_held(factory: SessionFactory) -> set[str]:
    async with transaction(factory) as session:
        return set((await session.execute(select(col(ContactPoint.address)))).scalars())


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The ``broadcast`` command pointed at the test's database."""
    monkeypatch.setenv("BROADCAST_ENV", "dev")
    monkeypatch.setenv("BROADCAST_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("BROADCAST_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def run_cli(*argv: str) -> int:
    """``broadcast ...`` as typed (it runs its own event loop, hence the thread)."""
    return await asyncio.to_thread(main, list(argv))


# -- R2: retention ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "now", "due"),
    [
        ("2025-06-15", "2025-11-30", False),
        ("2025-06-15", "2025-12-01", True),
        ("2025-08-31", "2025-12-01", True),
        ("2025-09-10", "2026-11-30", False),
        ("2025-09-10", "2026-12-01", True),
    ],
)
def test_a_contact_who_left_is_kept_until_30_november_after_his_school_year(
    left: str, now: str, due: bool
) -> None:
    left_at = datetime.fromisoformat(left).replace(tzinfo=UTC)
    at = datetime.fromisoformat(now).replace(tzinfo=UTC)
    assert (left_at < contact_purge_cutoff(at)) is due


def test_a_retention_in_days_replaces_the_school_year_rule() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    assert contact_purge_cutoff(now, retention_days=30) == now - timedelta(days=30)


async def _left(factory: SessionFactory, contact_id: int, at: datetime) -> None:
    async with transaction(factory) as session:
        await session.execute(
            update(Contact).where(col(Contact.id) == contact_id).values(left_at=at)
        )


async def _age_deliveries(factory: SessionFactory, broadcast_id: int, days: int) -> None:
    async with transaction(factory) as session:
        await session.execute(
            update(Delivery)
            .where(col(Delivery.broadcast_id) == broadcast_id)
            .values(created_at=utcnow() - timedelta(days=days))
        )


async def test_purge_deletes_contacts_gone_long_enough_masks_old_deliveries_and_is_audited(
    settings: Settings,
    factory: SessionFactory,
    sink: SmtpSink,
    cli_env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(privacy, "MASK_BATCH", 2)  # three old deliveries: two batches
    world = await build_world(factory)
    gone, recent, staying = await add_contacts(factory, guardians(world.school_x, 3))
    async with api(settings) as client:
        old_broadcast = await send_to_school(client, world, "x")
        await run_burst_workers(settings)
        new_broadcast = await send_to_school(client, world, "x")
        await run_burst_workers(settings)
    await _age_deliveries(factory, old_broadcast, days=400)
    cutoff = contact_purge_cutoff(utcnow())
    await _left(factory, gone, cutoff - timedelta(days=1))
    await _left(factory, recent, cutoff + timedelta(days=1))
    async with transaction(factory) as session:
        await suppress(session, "email", "parent0@familles.fr", "unsubscribe")

    assert await run_cli("purge", "--dry-run") == 0
    assert len(await addresses_held(factory)) == 3

    async with transaction(factory) as session:
        report = await purge_due(session, settings, trigger="cron")
    assert (report.contacts, report.contact_points, report.deliveries_masked) == (1, 1, 3)
    async with transaction(factory) as session:
        left_ids = set((await session.execute(select(col(Contact.id)))).scalars())
        suppressed = set((await session.execute(select(col(Suppression.address)))).scalars())
    assert left_ids == {recent, staying}
    assert await addresses_held(factory) == {"parent1@familles.fr", "parent2@familles.fr"}
    assert suppressed == {"parent0@familles.fr"}, "suppressions outlive the contact"
    rows = await deliveries(factory)
    old = [d for d in rows if d.broadcast_id == old_broadcast]
    assert [d.address for d in old] == [
        f"masked:{d.id}:p***{n}@f***.fr" for n, d in zip(range(3), old, strict=True)
    ]
    assert all(d.contact_id is None for d in old)
    new = [d for d in rows if d.broadcast_id == new_broadcast]
    assert {d.address for d in new} == {f"parent{n}@familles.fr" for n in range(3)}
    assert [d.contact_id for d in new if d.address == "parent0@familles.fr"] == [None]

    async with transaction(factory) as session:
        again = await purge_due(session, settings, trigger="cron")
    assert (again.contacts, again.deliveries_masked) == (0, 0)
    events = await audit_events(factory, "privacy.purge")
    assert [(e.details["trigger"], e.details["dry_run"]) for e in events] == [
        ("cli", True),
        ("cron", False),
        ("cron", False),
    ]
    assert [e.details["contacts"] for e in events] == [1, 1, 0]
    assert events[0].details["deliveries_masked"] == 3


async def test_the_workers_purge_every_night(settings: Settings, factory: SessionFactory) -> None:
    world = await build_world(factory)
    [gone] = await add_contacts(factory, guardians(world.school_x, 1))
    await _left(factory, gone, contact_purge_cutoff(utcnow()) - timedelta(days=1))
    assert settings.redis_url is not None
    resources = await Resources.open(settings, settings.redis_url)
    try:
        [bulk, *_] = build_workers(resources, settings.redis_url, [BULK_QUEUE], burst=True)
        [nightly] = [job for job in bulk.cron_jobs if job.coroutine is purge_personal_data]
        assert (nightly.hour, nightly.minute, nightly.second) == ({3}, {30}, {0})
        counts = await purge_personal_data({"resources": resources})
        await bulk.close()
    finally:
        await resources.close()
    assert counts == {"contacts": 1, "contact_points": 1, "deliveries_masked": 0}
    [event] = await audit_events(factory, "privacy.purge")
    assert event.details["trigger"] == "cron"


# -- R3: access export --------------------------------------------------------------------------


async def _family_in_two_schools(factory: SessionFactory, world: World) -> tuple[int, int]:
    [in_x] = await add_contacts(factory, [parent(world.school_x, "Léa", SHARED, "0611223344")])
    [in_y] = await add_contacts(factory, [parent(world.school_y, "Léa", SHARED)])
    return in_x, in_y


async def test_export_of_a_contact_holds_everything_on_the_person_and_is_audited(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    in_x, _ = await _family_in_two_schools(factory, world)
    async with transaction(factory) as session:
        await suppress(session, "sms", "+33611223344", "stop")
    async with api(settings) as client:
        broadcast_id = await send_to_school(client, world, "x")
        await run_burst_workers(settings)
        response = await client.get(
            f"/api/v1/contacts/{in_x}/export", headers=auth(world.keys["head_x"])
        )
        outside = await client.get(
            f"/api/v1/contacts/{in_x}/export", headers=auth(world.keys["head_y"])
        )
        viewer = await client.get(
            f"/api/v1/contacts/{in_x}/export", headers=auth(world.keys["viewer_x"])
        )
    assert response.status_code == 200, response.text
    body = response.json()
    [contact] = body["contacts"]
    assert (contact["id"], contact["first_name"]) == (in_x, "Léa")
    assert {(p["channel"], p["address"]) for p in contact["contact_points"]} == {
        ("email", SHARED),
        ("sms", "+33611223344"),
    }
    assert [(s["channel"], s["address"], s["receives_messages"]) for s in body["suppressions"]] == [
        ("sms", "+33611223344", False)
    ]
    assert [
        (d["broadcast_id"], d["channel"], d["address"], d["status"]) for d in body["deliveries"]
    ] == [(broadcast_id, "email", SHARED, "sent")]
    assert outside.status_code == 404 and viewer.status_code == 403
    [event] = await audit_events(factory, "contacts.export")
    assert (event.object_type, event.object_id, event.organisation_id) == (
        "contact",
        in_x,
        world.school_x,
    )
    assert event.details["rows"] == 3 and event.details["lookup"] == "contact"


async def test_export_by_address_covers_the_callers_scope_only(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    in_x, in_y = await _family_in_two_schools(factory, world)
    async with api(settings) as client:

        async def export(key: str, body: dict[str, Any]) -> httpx.Response:
            return await client.post("/api/v1/persons/export", headers=auth(key), json=body)

        officer = await export(world.keys["officer"], {"email": SHARED.upper()})
        head_x = await export(world.keys["head_x"], {"email": SHARED})
        by_phone = await export(world.keys["head_y"], {"phone": "06 11 22 33 44"})
        both = await export(world.keys["officer"], {"email": SHARED, "phone": "0611223344"})
    assert [c["id"] for c in officer.json()["contacts"]] == [in_x, in_y]
    assert [c["id"] for c in head_x.json()["contacts"]] == [in_x]
    assert by_phone.status_code == 404
    assert by_phone.json()["error"]["message"] == "Personne introuvable dans votre périmètre."
    assert both.status_code == 422
    events = await audit_events(factory, "contacts.export")
    assert [e.details["address"] for e in events] == ["F***R@E***.FR", "f***r@e***.fr"]
    assert all(SHARED not in json.dumps(e.details) for e in events)


async def test_export_person_command_prints_the_json(
    settings: Settings,
    factory: SessionFactory,
    cli_env: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    world = await build_world(factory)
    in_x, in_y = await _family_in_two_schools(factory, world)
    assert await run_cli("export-person", "--email", SHARED) == 0
    body = json.loads(capsys.readouterr().out)
    assert [c["id"] for c in body["contacts"]] == [in_x, in_y]
    assert await run_cli("export-person", "--phone", "01 23 45 67 89") == 2
    assert "Personne introuvable" in capsys.readouterr().err
    [event] = await audit_events(factory, "contacts.export")
    assert event.operator_id is None and event.details["rows"] == 2


# -- R3: erasure --------------------------------------------------------------------------------


async def test_erasure_deletes_the_person_masks_his_deliveries_and_keeps_his_stop(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await _family_in_two_schools(factory, world)
    await add_contacts(factory, guardians(world.school_x, 1))
    async with transaction(factory) as session:
        await suppress(session, "sms", "+33611223344", "stop")
    async with api(settings) as client:
        await send_to_school(client, world, "x")
        await send_to_school(client, world, "y")
        await run_burst_workers(settings)
        head = await client.post(
            "/api/v1/persons/erase", headers=auth(world.keys["head_x"]), json={"email": SHARED}
        )
        erased = await client.post(
            "/api/v1/persons/erase", headers=auth(world.keys["officer"]), json={"email": SHARED}
        )
        await add_contacts(factory, [parent(world.school_x, "Léa", SHARED, "0611223344")])
        preview = await client.post(
            "/api/v1/audiences/preview",
            headers=auth(world.keys["head_x"]),
            json={"criteria": {"organisation_ids": [world.school_x]}, "channels": ["sms"]},
        )
    assert head.status_code == 403
    assert erased.status_code == 200, erased.text
    assert erased.json() == {
        "contacts": 2,
        "contact_points": 3,
        "deliveries_masked": 2,
        "suppressions_kept": 1,
    }
    rows = await deliveries(factory)
    assert [d.address for d in rows if d.address.startswith("masked:")] == [
        f"masked:{d.id}:f***r@e***.fr" for d in rows if d.address.startswith("masked:")
    ]
    assert {d.address for d in rows if not d.address.startswith("masked:")} == {
        "parent0@familles.fr"
    }
    [event] = await audit_events(factory, "contacts.erase")
    assert (event.details["contacts"], event.details["lookup"]) == (2, "email")
    (sms,) = preview.json()["channels"]
    assert (sms["recipients"], sms["excluded"]["suppressed"]) == (0, 1), "the STOP still holds"


async def test_erasing_one_contact_leaves_the_deliveries_of_another_holder_of_the_address(
    settings: Settings, factory: SessionFactory, sink: SmtpSink, cli_env: None
) -> None:
    world = await build_world(factory)
    in_x, in_y = await _family_in_two_schools(factory, world)
    async with api(settings) as client:
        await send_to_school(client, world, "x")
        await send_to_school(client, world, "y")
        await run_burst_workers(settings)
    assert await run_cli("erase-person", "--contact", str(in_x)) == 0
    rows = await deliveries(factory)
    by_contact = {d.contact_id: d.address for d in rows}
    assert by_contact[in_y] == SHARED
    assert [d.address.startswith("masked:") for d in rows if d.contact_id != in_y] == [True]
    assert await addresses_held(factory) == {SHARED}
    [event] = await audit_events(factory, "contacts.erase")
    assert (event.object_id, event.details["deliveries_masked"]) == (in_x, 1)


# -- R4 and A7 ----------------------------------------------------------------------------------


async def test_csv_export_is_scoped_guarded_against_formulas_and_audited(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    tricky = ContactIn(
        organisation_id=world.school_x,
        first_name='=HYPERLINK("http://evil.example","clic")',
        last_name="@SUM(A1:A2)",
        role=ContactRole.guardian,
        division="-3e",
        email="lea@exemple.fr",
        mobile="06 12 34 56 78",
    )
    await add_contacts(factory, [tricky, *guardians(world.school_y, 2)])
    async with api(settings) as client:
        response = await client.get(
            "/api/v1/contacts/export.csv", headers=auth(world.keys["head_x"])
        )
        officer = await client.get(
            "/api/v1/contacts/export.csv", headers=auth(world.keys["officer"])
        )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    [header, row] = list(csv.reader(io.StringIO(response.text.removeprefix("\ufeff"))))
    cells = dict(zip(header, row, strict=True))
    assert cells["first_name"] == '\'=HYPERLINK("http://evil.example","clic")'
    assert cells["last_name"] == "'@SUM(A1:A2)"
    assert cells["division"] == "'-3e"
    assert cells["mobile"] == "'+33612345678"
    assert cells["email"] == "lea@exemple.fr"
    assert len(officer.text.strip().splitlines()) == 4
    events = await audit_events(factory, "contacts.export")
    assert [(e.organisation_id, e.details) for e in events] == [
        (world.school_x, {"format": "csv", "rows": 1}),
        (world.academie, {"format": "csv", "rows": 3}),
    ]


async def test_reading_contacts_is_audited_with_scope_and_rows(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 3))
    async with api(settings) as client:
        listed = await client.get("/api/v1/contacts", headers=auth(world.keys["head_x"]))
        one = await client.get(
            f"/api/v1/contacts/{listed.json()['items'][0]['id']}",
            headers=auth(world.keys["head_x"]),
        )
    assert one.status_code == 200
    events = await audit_events(factory, "contacts.read")
    assert [(e.organisation_id, e.details["rows"]) for e in events] == [
        (world.school_x, 3),
        (world.school_x, 1),
    ]
    assert all(e.operator_id is not None and e.at is not None for e in events)


def test_an_address_masked_for_good_shows_its_masked_form() -> None:
    assert mask_address("email", "masked:42:p***0@f***.fr") == "p***0@f***.fr"
    assert mask_address("sms", "masked:43:+336******78") == "+336******78"

"""Two-person approval (RULES A6, issue 5 item 2), through the API and real burst workers, on
both databases: what goes out at once, what waits for a second operator, who is told by email
(the aiosmtpd sink), who may approve, reject or override, and the audit log of every step."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from broadcast.accounts.models import AuditEvent, Role
from broadcast.accounts.service import create_api_key, create_operator
from broadcast.broadcasts.models import Broadcast
from broadcast.core.db import SessionFactory, transaction
from broadcast.directory.models import Organisation
from broadcast.sandbox.smtp import SmtpSink
from broadcast.sandbox.twilio import TwilioSandbox
from broadcast.settings import ApprovalThreshold, Settings
from tests.sms_support import families, running_sandbox, with_sms
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


@pytest.fixture
async def sandbox() -> AsyncIterator[TwilioSandbox]:
    async with running_sandbox() as server:
        server.hold_callbacks = True  # delivery reports play no part here
        yield server


async def add_operator(
    factory: SessionFactory, world: World, name: str, role: Role, organisation_id: int
) -> str:
    """Another operator of ``world`` and its API key, under ``world.keys[name]``."""
    async with transaction(factory) as session:
        organisation = await session.get(Organisation, organisation_id)
        assert organisation is not None
        operator = await create_operator(
            session,
            email=f"{name}@test.fr",
            display_name=name,
            role=role,
            organisation=organisation,
        )
        _, world.keys[name] = await create_api_key(session, operator, "test")
    return world.keys[name]


async def audit_trail(factory: SessionFactory, broadcast_id: int) -> list[AuditEvent]:
    async with transaction(factory) as session:
        rows = await session.execute(
            select(AuditEvent)
            .where(col(AuditEvent.object_type) == "broadcast")
            .where(col(AuditEvent.object_id) == broadcast_id)
            .order_by(col(AuditEvent.id))
        )
        return list(rows.scalars())


async def read(client: httpx.AsyncClient, key: str, broadcast_id: int) -> dict[str, Any]:
    found = await client.get(f"/api/v1/broadcasts/{broadcast_id}", headers=auth(key))
    assert found.status_code == 200, found.text
    body: dict[str, Any] = found.json()
    return body


async def test_a_head_teachers_send_to_his_school_under_the_threshold_goes_out_at_once(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 5))
    async with api(settings) as client:
        draft = await send_broadcast(
            client, world.keys["head_x"], world.school_x, {"organisation_ids": [world.school_x]}
        )
        assert draft["preview"]["approval_reasons"] == []  # the preview says: at once
        assert (await read(client, world.keys["head_x"], draft["id"]))["status"] == "queued"
        await run_burst_workers(settings)
        done = await read(client, world.keys["head_x"], draft["id"])
    assert done["status"] == "completed"
    assert done["approval_required"] is False and done["estimated_deliveries"] == 5
    assert sorted(m.to for m in sink.messages) == sorted(f"parent{n}@familles.fr" for n in range(5))
    assert [e.action for e in await audit_trail(factory, draft["id"])] == ["broadcast.send"]


async def test_an_officers_academie_wide_sms_waits_for_a_second_officer(
    settings: Settings, factory: SessionFactory, sink: SmtpSink, sandbox: TwilioSandbox
) -> None:
    settings = with_sms(settings, sandbox)
    world = await build_world(factory)
    second = await add_operator(factory, world, "officer2", Role.academie_officer, world.academie)
    await add_contacts(factory, families(world.school_x, 3))
    await add_contacts(
        factory,
        [
            f.model_copy(update={"mobile": "+3361111111" + f.last_name[-1]})
            for f in families(world.school_z, 3)
        ],
    )
    officer = world.keys["officer"]
    async with api(settings) as client:
        draft = await send_broadcast(
            client, officer, world.academie, {"organisation_ids": [world.academie]}, ["sms"]
        )
        assert draft["preview"]["approval_reasons"] == ["audience_above_school"]
        waiting = await read(client, officer, draft["id"])
        assert waiting["status"] == "pending_approval" and waiting["approval_required"] is True
        assert waiting["estimated_deliveries"] == 6 and waiting["estimated_sms_segments"] == 6

        await run_burst_workers(settings)  # sends the approvers' email, and no SMS
        assert sandbox.messages == []
        told = {m.to: m for m in sink.messages}
        assert set(told) == {"officer2@test.fr", "admin@test.fr"}  # neither author nor head
        email = told["officer2@test.fr"]
        assert email.subject == f"Approbation demandée : diffusion n° {draft['id']}"
        text = email.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "officer demande l'envoi" in text and "6 destinataires, 6 segments SMS" in text
        assert f"https://broadcast.test/console/approbations/{draft['id']}" in text

        url = f"/api/v1/broadcasts/{draft['id']}"
        own = await client.post(f"{url}/approve", headers=auth(officer))
        assert own.status_code == 403
        assert own.json()["error"]["message"].startswith("Vous avez demandé cet envoi")
        outside = await client.post(f"{url}/approve", headers=auth(world.keys["head_x"]))
        assert outside.status_code == 404  # a head teacher sees nothing above his school
        viewer = await client.post(f"{url}/approve", headers=auth(world.keys["viewer_x"]))
        assert viewer.status_code == 403
        assert (await read(client, officer, draft["id"]))["status"] == "pending_approval"

        approved = await client.post(f"{url}/approve", headers=auth(second))
        assert approved.status_code == 202, approved.text
        assert approved.json()["status"] == "queued"
        again = await client.post(f"{url}/approve", headers=auth(world.keys["admin"]))
        assert again.status_code == 409
        await run_burst_workers(settings)
        done = await read(client, officer, draft["id"])
    assert done["status"] == "completed"
    assert len(sandbox.messages) == 6
    assert {m.to for m in sandbox.messages} == {
        *(f"+3360000000{n}" for n in range(3)),
        *(f"+3361111111{n}" for n in range(3)),
    }
    trail = await audit_trail(factory, draft["id"])
    assert [e.action for e in trail] == [
        "broadcast.approval_requested",
        "broadcast.send",
        "broadcast.approve",
    ]
    requested, send, approve = trail
    assert requested.details["reasons"] == ["audience_above_school"]
    assert send.details["status"] == "pending_approval"
    assert approve.operator_id != requested.operator_id == send.operator_id
    async with transaction(factory) as session:
        row = await session.get(Broadcast, draft["id"])
    assert row is not None and row.approved_by_id == approve.operator_id and row.approved_at


async def test_a_rejection_needs_a_reason_and_sends_nothing(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    second = await add_operator(factory, world, "officer2", Role.academie_officer, world.academie)
    await add_contacts(factory, guardians(world.school_x, 2))
    async with api(settings) as client:
        draft = await send_broadcast(
            client, world.keys["officer"], world.academie, {"organisation_ids": [world.dep67]}
        )
        url = f"/api/v1/broadcasts/{draft['id']}"
        own = await client.post(
            f"{url}/reject", headers=auth(world.keys["officer"]), json={"reason": "erreur"}
        )
        assert own.status_code == 403
        missing = await client.post(f"{url}/reject", headers=auth(second), json={})
        assert missing.status_code == 422
        assert missing.json()["error"]["details"] == [
            {"field": "reason", "message": "champ obligatoire"}
        ]
        reason = "Message à reformuler : la date est fausse."
        rejected = await client.post(f"{url}/reject", headers=auth(second), json={"reason": reason})
        assert rejected.status_code == 200, rejected.text
        assert rejected.json()["status"] == "rejected"
        assert rejected.json()["rejection_reason"] == reason
        late = await client.post(f"{url}/approve", headers=auth(world.keys["admin"]))
        assert late.status_code == 409
        sink.clear()
        await run_burst_workers(settings)
    assert [m.to for m in sink.messages if "familles" in m.to] == []
    trail = await audit_trail(factory, draft["id"])
    assert [e.action for e in trail][-1] == "broadcast.reject"
    assert trail[-1].details["reason"] == reason


async def test_the_platform_admin_overrides_his_own_request_in_an_emergency_and_it_is_audited(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 2))
    await add_contacts(factory, guardians(world.school_z, 2, start=10))
    admin = world.keys["admin"]
    async with api(settings) as client:
        draft = await send_broadcast(
            client, admin, world.academie, {"organisation_ids": [world.academie]}
        )
        url = f"/api/v1/broadcasts/{draft['id']}"
        assert (await read(client, admin, draft["id"]))["status"] == "pending_approval"
        body = {"reason": "Confinement en cours : alerte immédiate."}
        officer = await client.post(
            f"{url}/override", headers=auth(world.keys["officer"]), json=body
        )
        assert officer.status_code == 403
        assert officer.json()["error"]["message"] == "Votre rôle ne permet pas cette action."
        overridden = await client.post(f"{url}/override", headers=auth(admin), json=body)
        assert overridden.status_code == 202, overridden.text
        assert overridden.json()["status"] == "queued"
        assert overridden.json()["approval_override"] is True
        await run_burst_workers(settings)
    families_told = sorted(m.to for m in sink.messages if "familles" in m.to)
    assert families_told == sorted(f"parent{n}@familles.fr" for n in (0, 1, 10, 11))
    trail = await audit_trail(factory, draft["id"])
    assert [e.action for e in trail] == [
        "broadcast.approval_requested",
        "broadcast.send",
        "broadcast.override",
    ]
    assert trail[-1].details["reason"] == body["reason"]


async def test_a_school_send_over_the_school_threshold_waits_and_another_head_cannot_see_it(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    """A head teacher approves within his own school only: the one of school Y gets 404; an
    officer above the school approves it."""
    strict = settings.model_copy(
        update={"approval_thresholds": {"etablissement": ApprovalThreshold(recipients=2)}}
    )
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 3))
    async with api(strict) as client:
        draft = await send_broadcast(
            client, world.keys["head_x"], world.school_x, {"organisation_ids": [world.school_x]}
        )
        url = f"/api/v1/broadcasts/{draft['id']}"
        assert (await read(client, world.keys["head_x"], draft["id"]))["status"] == (
            "pending_approval"
        )
        other_head = await client.post(f"{url}/approve", headers=auth(world.keys["head_y"]))
        assert other_head.status_code == 404
        approved = await client.post(f"{url}/approve", headers=auth(world.keys["officer"]))
        assert approved.status_code == 202, approved.text
    trail = await audit_trail(factory, draft["id"])
    assert trail[0].details["reasons"] == ["recipients"]


async def test_an_exercise_to_its_seed_list_needs_no_approval_whatever_its_audience(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 3))
    officer = auth(world.keys["officer"])
    async with api(settings) as client:
        notice = await client.post(
            "/api/v1/notices",
            headers=officer,
            json={"organisation_id": world.academie, "title": "Exercice", "message": "Test."},
        )
        draft = await client.post(
            "/api/v1/broadcasts",
            headers=officer,
            json={
                "notice_id": notice.json()["id"],
                "audience": {"organisation_ids": [world.academie]},
                "channels": ["email"],
                "is_exercise": True,
                "exercise_addresses": [{"channel": "email", "address": "cellule@ac-test.fr"}],
            },
        )
        assert draft.status_code == 201, draft.text
        assert draft.json()["preview"]["approval_reasons"] == []
        confirmed = await client.post(
            f"/api/v1/broadcasts/{draft.json()['id']}/confirm", headers=officer
        )
        assert confirmed.json()["status"] == "queued"
        await run_burst_workers(settings)
    assert [m.to for m in sink.messages] == ["cellule@ac-test.fr"]

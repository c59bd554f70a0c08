"""Alertmanager's webhook through the API: one draft notice per fingerprint, a "résolu" proposed
and confirmed by a person, the staff-only automatic send, the bearer secret and the scope."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import func, select

from broadcast.accounts.models import AuditEvent
from broadcast.broadcasts.models import Broadcast
from broadcast.core.db import SessionFactory, transaction
from broadcast.directory.models import ContactRole
from broadcast.directory.schemas import ContactIn
from broadcast.inbound.models import InboundAlert
from broadcast.notices.models import NoticeUpdate
from broadcast.sandbox.smtp import SmtpSink
from broadcast.settings import ApprovalThreshold, Settings, VolumeCap
from tests.inbound_support import alertmanager_payload, create_source, notices_of, post_alertmanager
from tests.support import add_contacts, api, auth, build_world, guardians, run_burst_workers


async def _count(factory: SessionFactory, model: type) -> int:
    async with transaction(factory) as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _audit_actions(factory: SessionFactory) -> Counter[str]:
    async with transaction(factory) as session:
        return Counter((await session.execute(select(AuditEvent.action))).scalars())


async def test_the_same_payload_twice_yields_one_draft_notice(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    officer = world.keys["officer"]
    async with api(settings) as client:
        source = await create_source(client, officer, world.school_x)
        first = await post_alertmanager(client, source, alertmanager_payload())
        second = await post_alertmanager(client, source, alertmanager_payload())
        notices = await notices_of(client, officer)

    assert (first.status_code, second.status_code) == (200, 200)
    assert len(first.json()["opened_notice_ids"]) == 1
    assert (second.json()["opened_notice_ids"], second.json()["seen_again"]) == ([], 1)
    [notice] = notices
    assert notice["organisation_id"] == world.school_x
    assert (notice["title"], notice["status"], notice["public"]) == (
        "L'ENT ne répond plus",
        "investigating",
        False,
    )
    assert [u["message"] for u in notice["updates"]] == [
        "La page d'accueil de l'ENT ne répond plus depuis 5 minutes."
    ]
    assert await _count(factory, InboundAlert) == 1
    assert await _count(factory, Broadcast) == 0, "nothing is sent without a person"
    actions = await _audit_actions(factory)
    assert (actions["inbound_source.create"], actions["inbound.notice_open"]) == (1, 1)


async def test_a_resolved_alert_is_proposed_then_a_person_confirms_it(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    officer, head = world.keys["officer"], world.keys["head_x"]
    async with api(settings) as client:
        source = await create_source(client, officer, world.school_x)
        await post_alertmanager(client, source, alertmanager_payload("firing"))
        resolved = await post_alertmanager(client, source, alertmanager_payload("resolved"))
        [before] = await notices_of(client, head)
        proposals = (await client.get("/api/v1/inbound/proposals", headers=auth(head))).json()
        [proposal] = proposals["items"]
        confirmed = await client.post(
            f"/api/v1/inbound/alerts/{proposal['alert_id']}/confirm-resolution",
            headers=auth(head),
        )
        again = await client.post(
            f"/api/v1/inbound/alerts/{proposal['alert_id']}/confirm-resolution",
            headers=auth(head),
        )
        left = (await client.get("/api/v1/inbound/proposals", headers=auth(head))).json()

    assert resolved.json()["proposed_alert_ids"] == [proposal["alert_id"]]
    assert before["status"] == "investigating", "a proposal changes nothing by itself"
    assert (proposal["notice_id"], proposal["fingerprint"]) == (before["id"], "5ef77f1f8a3ecfa4")
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "resolved"
    assert [u["status"] for u in confirmed.json()["updates"]] == ["investigating", "resolved"]
    assert confirmed.json()["updates"][-1]["message"].startswith("Incident résolu")
    assert again.status_code == 409
    assert again.json()["error"]["message"] == "Aucune résolution proposée pour cette alerte."
    assert left["items"] == []
    assert await _count(factory, Broadcast) == 0


async def test_a_fingerprint_firing_again_after_resolution_opens_a_new_notice(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    officer = world.keys["officer"]
    async with api(settings) as client:
        source = await create_source(client, officer, world.school_x)
        await post_alertmanager(client, source, alertmanager_payload("firing"))
        await post_alertmanager(client, source, alertmanager_payload("resolved"))
        [proposal] = (await client.get("/api/v1/inbound/proposals", headers=auth(officer))).json()[
            "items"
        ]
        await client.post(
            f"/api/v1/inbound/alerts/{proposal['alert_id']}/confirm-resolution",
            headers=auth(officer),
        )
        refired = await post_alertmanager(client, source, alertmanager_payload("firing"))
        notices = await notices_of(client, officer)

    assert [n["status"] for n in notices] == ["resolved", "investigating"]
    assert refired.json()["opened_notice_ids"] == [notices[1]["id"]]
    assert await _count(factory, InboundAlert) == 1


async def test_a_firing_alert_with_the_auto_send_rule_reaches_staff_only(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    staff = [
        ContactIn(
            organisation_id=world.school_x,
            last_name=f"Staff{n}",
            role=role,
            email=f"{role.value}@college-x.fr",
        )
        for n, role in enumerate((ContactRole.teacher, ContactRole.staff, ContactRole.head))
    ]
    pupil = ContactIn(
        organisation_id=world.school_x, role=ContactRole.pupil, email="eleve@college-x.fr"
    )
    await add_contacts(factory, [*staff, pupil, *guardians(world.school_x, 3)])
    async with api(settings) as client:
        source = await create_source(
            client, world.keys["officer"], world.school_x, auto_send_channels=["email"]
        )
        first = await post_alertmanager(client, source, alertmanager_payload())
        await run_burst_workers(settings)
        repeated = await post_alertmanager(client, source, alertmanager_payload())
        await run_burst_workers(settings)
        [broadcast_id] = first.json()["broadcast_ids"]
        sent = await client.get(
            f"/api/v1/broadcasts/{broadcast_id}", headers=auth(world.keys["officer"])
        )

    assert Counter(a for m in sink.messages for a in m.rcpt_tos) == Counter(
        {"teacher@college-x.fr": 1, "staff@college-x.fr": 1, "head@college-x.fr": 1}
    )
    assert repeated.json()["broadcast_ids"] == []
    assert sent.json()["status"] == "completed"
    assert sent.json()["audience"]["roles"] == ["teacher", "staff", "head"]
    actions = await _audit_actions(factory)
    assert (actions["inbound.auto_send"], actions["broadcast.send"]) == (1, 1)


async def _staff_and_auto_send_source(
    client: Any, factory: SessionFactory, world: Any
) -> dict[str, Any]:
    staff = [
        ContactIn(
            organisation_id=world.school_x,
            last_name=f"S{n}",
            role=ContactRole.teacher,
            email=f"prof{n}@college-x.fr",
        )
        for n in range(3)
    ]
    await add_contacts(factory, staff)
    return await create_source(
        client, world.keys["officer"], world.school_x, auto_send_channels=["email"]
    )


async def test_an_auto_send_over_a_cap_stays_a_draft_and_the_notice_is_kept(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    settings = settings.model_copy(
        update={"volume_caps": {"etablissement": VolumeCap(recipients_per_hour=2)}}
    )
    world = await build_world(factory)
    async with api(settings) as client:
        source = await _staff_and_auto_send_source(client, factory, world)
        answer = await post_alertmanager(client, source, alertmanager_payload())
        await run_burst_workers(settings)
        notices = await notices_of(client, world.keys["officer"])

    assert answer.status_code == 200, answer.text
    assert answer.json()["broadcast_ids"] == []
    assert len(notices) == 1
    async with transaction(factory) as session:
        statuses = list((await session.execute(select(Broadcast.status))).scalars())
    assert statuses == ["draft"]
    assert sink.messages == []
    assert (await _audit_actions(factory))["inbound.auto_send_refused"] == 1


async def test_an_auto_send_over_the_threshold_waits_and_its_approvers_are_told(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    settings = settings.model_copy(
        update={"approval_thresholds": {"etablissement": ApprovalThreshold(recipients=2)}}
    )
    world = await build_world(factory)
    async with api(settings) as client:
        source = await _staff_and_auto_send_source(client, factory, world)
        answer = await post_alertmanager(client, source, alertmanager_payload())
        await run_burst_workers(settings)
        [broadcast_id] = answer.json()["broadcast_ids"]
        waiting = await client.get(
            f"/api/v1/broadcasts/{broadcast_id}", headers=auth(world.keys["admin"])
        )

    assert waiting.json()["status"] == "pending_approval"
    recipients = {a for m in sink.messages for a in m.rcpt_tos}
    assert "officer@test.fr" not in recipients  # the rule's owner requested it
    assert "admin@test.fr" in recipients
    assert not any(a.startswith("prof") for a in recipients)  # nothing sent to staff yet


async def test_a_wrong_or_missing_bearer_is_401_and_changes_nothing(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    async with api(settings) as client:
        source = await create_source(client, world.keys["officer"], world.school_x)
        generic = await create_source(client, world.keys["officer"], world.school_x, "generic")
        url = f"/api/v1/inbound/alertmanager/{source['id']}"
        wrong = await client.post(
            url, headers={"Authorization": "Bearer nope"}, json=alertmanager_payload()
        )
        missing = await client.post(url, json=alertmanager_payload())
        other_kind = await post_alertmanager(
            client, {**generic, "secret": generic["secret"]}, alertmanager_payload()
        )
        unknown = await post_alertmanager(client, {**source, "id": 999999}, alertmanager_payload())
        listed = await client.get("/api/v1/inbound-sources", headers=auth(world.keys["officer"]))

    for answer in (wrong, missing, other_kind, unknown):
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["message"] == (
            "Source de supervision inconnue ou secret invalide."
        )
    assert await _count(factory, NoticeUpdate) == 0
    assert [s.get("secret") for s in listed.json()["items"]] == [None, None], "shown once"


async def test_an_invalid_or_oversized_payload_is_refused_in_french(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    async with api(settings) as client:
        source = await create_source(client, world.keys["officer"], world.school_x)
        invalid = await post_alertmanager(client, source, {"status": "firing"})
        huge = alertmanager_payload()
        huge["commonAnnotations"] = {"description": "x" * 600_000}
        oversized = await post_alertmanager(client, source, huge)

    assert invalid.status_code == 422
    assert invalid.json()["error"]["details"][0]["message"] == "champ obligatoire"
    assert oversized.status_code == 413
    assert oversized.json()["error"]["message"] == "Le corps de la requête est trop volumineux."
    assert await _count(factory, InboundAlert) == 0


async def test_a_source_of_school_y_is_404_for_the_head_of_x(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    head_x, head_y = auth(world.keys["head_x"]), auth(world.keys["head_y"])
    async with api(settings) as client:
        source = await create_source(client, world.keys["officer"], world.school_y)
        await post_alertmanager(client, source, alertmanager_payload())
        await post_alertmanager(client, source, alertmanager_payload("resolved"))
        url = f"/api/v1/inbound-sources/{source['id']}"
        proposals = await client.get("/api/v1/inbound/proposals", headers=head_y)
        [alert_id] = [p["alert_id"] for p in proposals.json()["items"]]
        seen_by_x = [
            await client.get(url, headers=head_x),
            await client.delete(url, headers=head_x),
            await client.post(
                f"/api/v1/inbound/alerts/{alert_id}/confirm-resolution", headers=head_x
            ),
        ]
        lists_of_x = [
            (await client.get(path, headers=head_x)).json()["items"]
            for path in ("/api/v1/inbound-sources", "/api/v1/inbound/proposals")
        ]
        created_by_x = await client.post(
            "/api/v1/inbound-sources",
            headers=head_x,
            json={"organisation_id": world.school_x, "name": "Nagios", "kind": "generic"},
        )
        read_by_y = await client.get(url, headers=head_y)
        deleted_by_y = await client.delete(url, headers=head_y)
        deleted_by_officer = await client.delete(url, headers=auth(world.keys["officer"]))

    assert [r.status_code for r in seen_by_x] == [404, 404, 404]
    assert lists_of_x == [[], []]
    assert created_by_x.status_code == 403
    assert read_by_y.status_code == 200 and read_by_y.json()["secret"] is None
    assert deleted_by_y.status_code == 403
    assert deleted_by_y.json()["error"]["message"] == "Votre rôle ne permet pas cette action."
    assert deleted_by_officer.status_code == 204
    assert await _count(factory, InboundAlert) == 0


async def test_a_group_of_two_alerts_opens_one_notice_per_fingerprint(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    officer = world.keys["officer"]
    group = alertmanager_payload()
    second = {**group["alerts"][0], "fingerprint": "0a1b2c3d4e5f6071"}
    second["annotations"] = {"summary": "La messagerie ne répond plus"}
    group["alerts"].append(second)
    async with api(settings) as client:
        source = await create_source(client, officer, world.school_x)
        first = await post_alertmanager(client, source, group)
        again = await post_alertmanager(client, source, group)
        notices = await notices_of(client, officer)

    assert len(first.json()["opened_notice_ids"]) == 2
    assert (again.json()["opened_notice_ids"], again.json()["seen_again"]) == ([], 2)
    assert [(n["title"], n["updates"][0]["message"]) for n in notices] == [
        ("L'ENT ne répond plus", "La page d'accueil de l'ENT ne répond plus depuis 5 minutes."),
        ("La messagerie ne répond plus", "La messagerie ne répond plus"),
    ]


async def test_an_operator_turns_the_rule_off_then_stops_listening(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    officer = auth(world.keys["officer"])
    await add_contacts(
        factory,
        [ContactIn(organisation_id=world.school_x, role=ContactRole.teacher, email="t@x.fr")],
    )
    async with api(settings) as client:
        source = await create_source(
            client, world.keys["officer"], world.school_x, auto_send_channels=["email"]
        )
        url = f"/api/v1/inbound-sources/{source['id']}"
        by_head = await client.patch(
            url, headers=auth(world.keys["head_x"]), json={"auto_send_channels": []}
        )
        rule_off = await client.patch(url, headers=officer, json={"auto_send_channels": []})
        fired = await post_alertmanager(client, source, alertmanager_payload())
        stopped = await client.patch(url, headers=officer, json={"enabled": False})
        refused = await post_alertmanager(client, source, alertmanager_payload("resolved"))

    assert by_head.status_code == 403
    assert rule_off.status_code == 200 and rule_off.json()["auto_send_channels"] == []
    assert fired.json()["broadcast_ids"] == [] and len(fired.json()["opened_notice_ids"]) == 1
    assert stopped.json()["enabled"] is False and stopped.json()["secret"] is None
    assert refused.status_code == 401
    assert await _count(factory, Broadcast) == 0
    assert (await _audit_actions(factory))["inbound_source.update"] == 2

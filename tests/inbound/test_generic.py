"""The generic signed format (RULES W4) through the API, signed by the ``standardwebhooks``
package: a good signature opens a draft notice; a bad one, an old or future timestamp are
refused; a replayed webhook-id is acknowledged and changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from broadcast.core.db import SessionFactory, transaction
from broadcast.inbound.models import InboundReceipt, InboundSource
from broadcast.inbound.service import purge_receipts
from broadcast.notices.models import Notice
from broadcast.settings import Settings
from tests.inbound_support import create_source, generic_alert, notices_of, signed
from tests.support import api, auth, build_world


async def _post(
    client: httpx.AsyncClient, source: dict[str, Any], body: bytes, headers: dict[str, str]
) -> httpx.Response:
    return await client.post(
        f"/api/v1/inbound/generic/{source['id']}", content=body, headers=headers
    )


async def _count(factory: SessionFactory, model: type) -> int:
    async with transaction(factory) as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_signed_alert_opens_a_draft_and_a_replayed_id_changes_nothing(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    officer = world.keys["officer"]
    async with api(settings) as client:
        source = await create_source(client, officer, world.academie, "generic")
        first = await _post(client, source, *signed(source["secret"], "msg_1", generic_alert()))
        resolved = generic_alert("resolved")
        replay = await _post(client, source, *signed(source["secret"], "msg_1", resolved))
        notices = await notices_of(client, officer)
        proposals = await client.get("/api/v1/inbound/proposals", headers=auth(officer))

    assert source["secret"].startswith("whsec_")
    assert first.status_code == 200, first.text
    assert replay.status_code == 200 and replay.json() == {"replay": True}
    [notice] = notices
    assert (notice["organisation_id"], notice["title"], notice["status"]) == (
        world.academie,
        "Messagerie de l'ENT indisponible",
        "investigating",
    )
    assert [u["message"] for u in notice["updates"]] == [
        "La messagerie de l'ENT ne distribue plus les messages."
    ]
    assert proposals.json()["items"] == [], "the replayed id was ignored, resolved or not"
    assert await _count(factory, InboundReceipt) == 1


async def test_a_resolved_alert_under_a_new_id_is_proposed(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    officer = world.keys["officer"]
    async with api(settings) as client:
        source = await create_source(client, officer, world.school_x, "generic")
        await _post(client, source, *signed(source["secret"], "msg_1", generic_alert()))
        resolved = generic_alert("resolved")
        answer = await _post(client, source, *signed(source["secret"], "msg_2", resolved))
        proposals = await client.get("/api/v1/inbound/proposals", headers=auth(officer))

    [proposal] = proposals.json()["items"]
    assert answer.json()["proposed_alert_ids"] == [proposal["alert_id"]]
    assert proposal["fingerprint"] == "ent-down"


async def test_a_bad_signature_or_a_stale_timestamp_is_refused(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    async with api(settings) as client:
        source = await create_source(client, world.keys["officer"], world.school_x, "generic")
        other = await create_source(client, world.keys["officer"], world.school_x, "generic")
        forged = await _post(client, source, *signed(other["secret"], "msg_1", generic_alert()))
        body, headers = signed(source["secret"], "msg_2", generic_alert())
        tampered = await _post(client, source, body.replace(b"ENT", b"SSO"), headers)
        unsigned = await _post(client, source, body, {"content-type": "application/json"})
        old = datetime.now(UTC) - timedelta(minutes=6)
        stale = await _post(
            client, source, *signed(source["secret"], "msg_3", generic_alert(), old)
        )
        ahead = datetime.now(UTC) + timedelta(minutes=6)
        future = await _post(
            client, source, *signed(source["secret"], "msg_4", generic_alert(), ahead)
        )

    for answer in (forged, tampered, unsigned, stale, future):
        assert answer.status_code == 401, answer.text
    assert forged.json()["error"]["message"].startswith("Signature du webhook invalide")
    assert unsigned.json()["error"]["message"].startswith("En-têtes webhook-id")
    assert stale.json()["error"]["message"] == (
        "Webhook trop ancien : horodatage décalé de plus de 300 s."
    )
    assert future.json()["error"]["message"].startswith("Webhook daté dans le futur")
    assert await _count(factory, Notice) == 0
    assert await _count(factory, InboundReceipt) == 0


async def test_an_invalid_body_is_422_in_french_and_leaves_no_receipt(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    async with api(settings) as client:
        source = await create_source(client, world.keys["officer"], world.school_x, "generic")
        bad = {**generic_alert(), "status": "open", "colour": "red"}
        answer = await _post(client, source, *signed(source["secret"], "msg_1", bad))

    assert answer.status_code == 422
    details = {d["field"]: d["message"] for d in answer.json()["error"]["details"]}
    assert details == {
        "status": "valeur non permise ; valeurs acceptées : « firing », « resolved »",
        "colour": "champ inconnu",
    }
    assert await _count(factory, InboundReceipt) == 0


async def test_receipts_are_kept_an_hour_then_purged(factory: SessionFactory) -> None:
    world = await build_world(factory)
    now = datetime.now(UTC)
    async with transaction(factory) as session:
        source = InboundSource(
            organisation_id=world.school_x, name="Nagios", kind="generic", secret="whsec_x"
        )
        session.add(source)
        await session.flush()
        for message_id, age in (("old", timedelta(minutes=61)), ("recent", timedelta(minutes=59))):
            session.add(
                InboundReceipt(
                    source_id=source.id or 0, message_id=message_id, received_at=now - age
                )
            )
    async with transaction(factory) as session:
        purged = await purge_receipts(session, now)
    async with transaction(factory) as session:
        left = (await session.execute(select(InboundReceipt.message_id))).scalars().all()
    assert (purged, left) == (1, ["recent"])

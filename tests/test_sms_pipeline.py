"""SMS end to end: the real API, real burst workers, Redis, both databases and the Twilio
sandbox reached by twilio's own async client; callbacks come back signed to the real routes."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from broadcast.core.db import SessionFactory, transaction
from broadcast.deliveries.models import Delivery
from broadcast.directory.models import Suppression
from broadcast.sandbox.smtp import SmtpSink
from broadcast.sandbox.twilio import TwilioSandbox
from broadcast.settings import Settings
from tests.sms_support import (
    ACCOUNT_SID,
    apply_callbacks,
    families,
    mobile,
    running_sandbox,
    sign,
    through,
    with_sms,
)
from tests.support import add_contacts, api, auth, build_world, run_burst_workers, send_broadcast

STATUS_PATH = "/providers/twilio/status"
INBOUND_PATH = "/providers/twilio/inbound"


@pytest.fixture
async def sandbox() -> AsyncIterator[TwilioSandbox]:
    async with running_sandbox() as server:
        server.hold_callbacks = True  # released once the workers have recorded the SIDs
        yield server


async def sms_counters(
    client: httpx.AsyncClient, key: str, broadcast_id: int, until: dict[str, int]
) -> dict[str, int]:
    """The broadcast's SMS counters, polled until they show ``until`` (bounded wait)."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        found = await client.get(f"/api/v1/broadcasts/{broadcast_id}", headers=auth(key))
        counters: dict[str, int] = found.json()["counters"].get("sms", {})
        if all(counters.get(k) == v for k, v in until.items()):
            return counters
        assert asyncio.get_running_loop().time() < deadline, counters
        await asyncio.sleep(0.05)


async def sms_rows(factory: SessionFactory) -> list[Delivery]:
    async with transaction(factory) as session:
        rows = await session.execute(
            select(Delivery).where(Delivery.channel == "sms").order_by(Delivery.address)
        )
        return list(rows.scalars())


async def send_to_families(
    client: httpx.AsyncClient, key: str, school: int, channels: list[str]
) -> dict[str, Any]:
    return await send_broadcast(client, key, school, {"organisation_ids": [school]}, channels)


async def test_email_and_sms_reach_each_address_once_then_sms_show_delivered(
    settings: Settings, factory: SessionFactory, sink: SmtpSink, sandbox: TwilioSandbox
) -> None:
    settings = with_sms(settings, sandbox)
    world = await build_world(factory)
    key = world.keys["head_x"]
    await add_contacts(factory, families(world.school_x, 4))
    async with api(settings) as client:
        sandbox.deliver = through(client, settings)
        draft = await send_to_families(client, key, world.school_x, ["email", "sms"])
        assert [c["recipients"] for c in draft["preview"]["channels"]] == [4, 4]
        await run_burst_workers(settings)
        assert (await sms_counters(client, key, draft["id"], {"sent": 4}))["delivered"] == 0
        await sandbox.release_callbacks()
        counters = await sms_counters(client, key, draft["id"], {"delivered": 4})

    assert Counter(a for m in sink.messages for a in m.rcpt_tos) == Counter(
        {f"parent{n}@familles.fr": 1 for n in range(4)}
    )
    assert Counter(m.to for m in sandbox.messages) == Counter({mobile(n): 1 for n in range(4)})
    assert {m.body for m in sandbox.messages} == {
        "[Collège Org 0670100V] L'ENT est indisponible ce matin. Les cours ont lieu normalement. "
        "STOP au +33700000000"
    }
    assert counters["sent"] == counters["failed"] == 0
    assert set(sandbox.callback_statuses) == {204}
    rows = await sms_rows(factory)
    assert {r.provider_message_id for r in rows} == {m.sid for m in sandbox.messages}


async def test_a_bad_signature_is_403_and_a_late_sent_changes_nothing(
    settings: Settings, factory: SessionFactory, sandbox: TwilioSandbox
) -> None:
    settings = with_sms(settings, sandbox)
    world = await build_world(factory)
    await add_contacts(factory, families(world.school_x, 1))
    async with api(settings) as client:
        sandbox.deliver = through(client, settings)
        await send_to_families(client, world.keys["head_x"], world.school_x, ["sms"])
        await run_burst_workers(settings)
        [message] = sandbox.messages
        params = {
            "MessageSid": message.sid,
            "AccountSid": ACCOUNT_SID,
            "MessageStatus": "failed",
            "ErrorCode": "30005",
            "To": message.to,
        }
        forged = await client.post(
            STATUS_PATH, data=params, headers={"X-Twilio-Signature": "bm9wZQ=="}
        )
        unsigned = await client.post(STATUS_PATH, data=params)
        assert (forged.status_code, unsigned.status_code) == (403, 403)
        assert [r.status for r in await sms_rows(factory)] == ["sent"]

        await sandbox.release_callbacks()
        late = {**params, "MessageStatus": "sent"}
        del late["ErrorCode"]
        for _ in range(2):  # a late "sent", repeated
            answer = await client.post(
                STATUS_PATH, data=late, headers=sign(settings, STATUS_PATH, late)
            )
            assert answer.status_code == 204
        assert await apply_callbacks(settings) == 2
    [row] = await sms_rows(factory)
    assert row.status == "delivered"
    async with transaction(factory) as session:
        assert (await session.execute(select(Suppression))).first() is None


async def test_stop_excludes_the_number_from_the_next_preview_and_start_restores_it(
    settings: Settings, factory: SessionFactory, sandbox: TwilioSandbox
) -> None:
    settings = with_sms(settings, sandbox)
    world = await build_world(factory)
    key = world.keys["head_x"]
    await add_contacts(factory, families(world.school_x, 3))
    audience = {"organisation_ids": [world.school_x]}
    async with api(settings) as client:
        sandbox.deliver = through(client, settings)
        sandbox.inbound_url = settings.public_base_url + INBOUND_PATH

        async def sms_preview() -> dict[str, Any]:
            draft = await send_broadcast(client, key, world.school_x, audience, ["sms"])
            preview: dict[str, Any] = draft["preview"]["channels"][0]
            return preview

        answer = await client.post(
            INBOUND_PATH,
            data={"From": mobile(1), "Body": "STOP"},
            headers={"X-Twilio-Signature": "bm9wZQ=="},
        )
        assert answer.status_code == 403
        assert (await sms_preview())["excluded"]["suppressed"] == 0

        assert await sandbox.send_inbound(mobile(1), "+33700000000", "  Arrêt ") == 200
        stopped = await sms_preview()
        assert (stopped["recipients"], stopped["excluded"]["suppressed"]) == (2, 1)

        assert await sandbox.send_inbound(mobile(1), "+33700000000", "start") == 200
        restored = await sms_preview()
        assert (restored["recipients"], restored["excluded"]["suppressed"]) == (3, 0)

        twiml = await client.post(
            INBOUND_PATH,
            data=(params := {"From": mobile(2), "Body": "Merci", "AccountSid": ACCOUNT_SID}),
            headers=sign(settings, INBOUND_PATH, params),
        )
    assert twiml.headers["content-type"].startswith("text/xml")
    assert twiml.text.endswith("<Response/>")


async def test_429_then_success_ends_sent_after_a_retry(
    settings: Settings, factory: SessionFactory, sandbox: TwilioSandbox
) -> None:
    settings = with_sms(settings, sandbox)
    world = await build_world(factory)
    await add_contacts(factory, families(world.school_x, 3))
    sandbox.fail_next(429, 20429)
    async with api(settings) as client:
        await send_to_families(client, world.keys["head_x"], world.school_x, ["sms"])
        await run_burst_workers(settings)
    rows = await sms_rows(factory)
    assert [r.status for r in rows] == ["sent"] * 3
    assert sorted(r.attempts for r in rows) == [1, 1, 2]
    assert Counter(m.to for m in sandbox.messages) == Counter({mobile(n): 1 for n in range(3)})


async def test_30005_fails_the_delivery_and_suppresses_the_number(
    settings: Settings, factory: SessionFactory, sandbox: TwilioSandbox
) -> None:
    settings = with_sms(settings, sandbox)
    world = await build_world(factory)
    key = world.keys["head_x"]
    await add_contacts(factory, families(world.school_x, 3))
    sandbox.final_status(mobile(2), "undelivered", 30005)
    async with api(settings) as client:
        sandbox.deliver = through(client, settings)
        draft = await send_to_families(client, key, world.school_x, ["sms"])
        await run_burst_workers(settings)
        await sandbox.release_callbacks()
        await sms_counters(client, key, draft["id"], {"delivered": 2, "failed": 1})
    failed = [r for r in await sms_rows(factory) if r.status == "failed"]
    assert [(r.address, r.error) for r in failed] == [(mobile(2), "twilio 30005")]
    async with transaction(factory) as session:
        suppressions = (await session.execute(select(Suppression))).scalars().all()
    assert [(s.channel, s.address, s.reason) for s in suppressions] == [
        ("sms", mobile(2), "invalid_number")
    ]


async def test_a_worker_without_sms_account_fails_sms_and_still_sends_email(
    settings: Settings, factory: SessionFactory, sink: SmtpSink, sandbox: TwilioSandbox
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, families(world.school_x, 2))
    async with api(with_sms(settings, sandbox)) as client:
        draft = await send_to_families(
            client, world.keys["head_x"], world.school_x, ["email", "sms"]
        )
        await run_burst_workers(settings)  # this worker has no Twilio account
        done = await client.get(
            f"/api/v1/broadcasts/{draft['id']}", headers=auth(world.keys["head_x"])
        )
    assert done.json()["status"] == "completed"
    assert done.json()["counters"]["email"]["sent"] == 2
    assert {(r.status, r.error) for r in await sms_rows(factory)} == {
        ("failed", "aucun compte SMS configuré")
    }
    assert sandbox.messages == []


async def test_creates_left_without_an_answer_are_reconciled_never_sent_twice(
    settings: Settings, factory: SessionFactory, sandbox: TwilioSandbox
) -> None:
    """RULES D4, D5: one create is recorded but its answer never comes (found by the listing:
    sent, its SID stored), one is dropped before Twilio recorded it (transient, retried once)."""
    settings = with_sms(settings, sandbox).model_copy(update={"provider_timeout_s": 0.3})
    world = await build_world(factory)
    await add_contacts(factory, families(world.school_x, 3))
    sandbox.lose_next("after_create", stall_s=1.0)
    sandbox.lose_next("before_create")
    async with api(settings) as client:
        await send_to_families(client, world.keys["head_x"], world.school_x, ["sms"])
        await run_burst_workers(settings)
    rows = await sms_rows(factory)
    assert [r.status for r in rows] == ["sent"] * 3
    assert sorted(r.attempts for r in rows) == [1, 1, 2]
    assert Counter(m.to for m in sandbox.messages) == Counter({mobile(n): 1 for n in range(3)})
    assert {r.provider_message_id for r in rows} == {m.sid for m in sandbox.messages}
    assert len(sandbox.lists) == 2

"""One broadcast over email, SMS and web push to one class, end to end: the real API, burst
workers, both databases, the aiosmtpd sink, the Twilio sandbox (signed status callbacks back to
the app) and the push sandbox decrypting every message."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import pytest

from broadcast.core.db import SessionFactory
from broadcast.sandbox.push import PushSandbox
from broadcast.sandbox.smtp import SmtpSink
from broadcast.sandbox.twilio import TwilioSandbox
from broadcast.settings import Settings
from tests.push_support import (
    browser_subscription,
    follow,
    running_push,
    subscribe_contact,
    with_push,
)
from tests.sms_support import families, mobile, running_sandbox, through, with_sms
from tests.support import add_contacts, api, auth, build_world, run_burst_workers, send_broadcast
from tests.test_sms_pipeline import sms_counters


@pytest.fixture
async def twilio() -> AsyncIterator[TwilioSandbox]:
    async with running_sandbox() as server:
        server.hold_callbacks = True
        yield server


@pytest.fixture
async def push() -> AsyncIterator[PushSandbox]:
    async with running_push() as sandbox:
        yield sandbox


async def test_email_sms_and_push_reach_one_class_once_each(
    settings: Settings,
    factory: SessionFactory,
    sink: SmtpSink,
    twilio: TwilioSandbox,
    push: PushSandbox,
) -> None:
    settings = with_push(with_sms(settings, twilio))
    world = await build_world(factory)
    key = world.keys["head_x"]
    in_class = await add_contacts(factory, families(world.school_x, 4))
    other_class = families(world.school_x, 6)[5].model_copy(
        update={"division": "5e B", "email": "autre@familles.fr", "mobile": mobile(50)}
    )
    [outside] = await add_contacts(factory, [other_class])
    async with api(settings) as client:
        twilio.deliver = through(client, settings)
        browsers = [browser_subscription(push) for _ in in_class]
        for contact_id, subscription in zip(in_class, browsers, strict=True):
            await subscribe_contact(client, key, contact_id, subscription)
        elsewhere = browser_subscription(push)
        await subscribe_contact(client, key, outside, elsewhere)
        follower = browser_subscription(push)
        await follow(client, follower, organisation_id=world.school_x)
        draft = await send_broadcast(
            client,
            key,
            world.school_x,
            {"organisation_ids": [world.school_x], "divisions": ["6e A"]},
            ["email", "sms", "push"],
        )
        preview = {c["channel"]: c["recipients"] for c in draft["preview"]["channels"]}
        await run_burst_workers(settings)
        sent = await sms_counters(client, key, draft["id"], {"sent": 4})
        await twilio.release_callbacks()
        delivered = await sms_counters(client, key, draft["id"], {"delivered": 4})
        final = (await client.get(f"/api/v1/broadcasts/{draft['id']}", headers=auth(key))).json()

    assert preview == {"email": 4, "sms": 4, "push": 4}
    assert Counter(a for m in sink.messages for a in m.rcpt_tos) == Counter(
        {f"parent{n}@familles.fr": 1 for n in range(4)}
    )
    assert Counter(m.to for m in twilio.messages) == Counter({mobile(n): 1 for n in range(4)})
    assert [len(push.messages_for(b)) for b in browsers] == [1, 1, 1, 1]
    assert push.messages_for(elsewhere) == push.messages_for(follower) == []
    assert {m.data["title"] for m in push.messages} == {"ENT indisponible"}
    assert sent["delivered"] == 0 and delivered["sent"] == 0
    counters = final["counters"]
    assert counters["email"]["sent"] == counters["push"]["sent"] == 4
    assert counters["sms"]["delivered"] == 4
    assert sum(counters["push"].values()) == 4
    assert final["status"] == "completed"

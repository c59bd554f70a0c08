"""``make demo``'s web push: subscriptions the push sandbox can decrypt, for families and
anonymous followers of the Collège Pasteur, and the outbox showing what it received, masked."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from admin.app import create_app
from admin.public import DemoOutbox
from broadcast.core.db import SessionFactory, transaction
from broadcast.directory.models import Contact, Organisation, PushSubscription
from broadcast.sandbox.demo import PUSH_SCHOOL, seed_demo, seed_push_subscriptions
from broadcast.sandbox.smtp import SmtpSink
from broadcast.settings import Settings
from tests.push_support import APPLICATION_SERVER_KEY, running_push, with_push
from tests.support import run_burst_workers, send_broadcast


async def test_demo_push_subscriptions_reach_the_sandbox_and_the_outbox(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    settings = with_push(settings)
    async with running_push() as push:
        async with transaction(factory) as session:
            credentials = await seed_demo(session, contacts=200)
            seeded = await seed_push_subscriptions(
                session, settings, lambda: push.new_subscription(APPLICATION_SERVER_KEY)
            )
        async with transaction(factory) as session:  # a second run forgets the first's
            seeded = await seed_push_subscriptions(
                session, settings, lambda: push.new_subscription(APPLICATION_SERVER_KEY)
            )
            subscriptions = await session.scalar(select(func.count()).select_from(PushSubscription))
            followers = await session.scalar(
                select(func.count()).select_from(Contact).where(Contact.role == "follower")
            )
            school = await session.scalar(
                select(Organisation.id).where(Organisation.code == PUSH_SCHOOL)
            )
        assert subscriptions == seeded and followers == 5 and seeded > 5
        app = create_app(settings, outbox=DemoOutbox(sink, None, push))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                assert school is not None
                await send_broadcast(
                    client,
                    credentials.head_key,
                    school,
                    {"organisation_ids": [school]},
                    ["push"],
                    "urgent",
                    public=True,  # anonymous followers receive public notices only
                )
                await run_burst_workers(settings)
                outbox = (await client.get("/demo/outbox")).json()
                page = (await client.get("/demo")).text
    assert outbox["total"]["push"] == seeded == len(push.messages)
    first = outbox["push"][0]
    assert (first["title"], first["urgency"]) == ("ENT indisponible", "high")
    assert first["to"] == f"{push.origin}/***"
    assert f"Notifications web ({seeded})" in page
    assert "/push/" not in page

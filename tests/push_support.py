"""Shared by the web-push tests: a VAPID key, settings that use it, subscriptions made by the
push sandbox (which can decrypt what it receives) and registered through the real API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import select

from broadcast.channels.push.vapid import generate_vapid_keys
from broadcast.core.db import SessionFactory, transaction
from broadcast.directory.models import Contact, ContactPoint, PushSubscription
from broadcast.sandbox.push import PushSandbox
from broadcast.settings import Settings
from tests.support import auth

VAPID_PRIVATE_KEY, APPLICATION_SERVER_KEY = generate_vapid_keys()
VAPID_SUBJECT = "mailto:dsi@ac-test.fr"


@asynccontextmanager
async def running_push() -> AsyncIterator[PushSandbox]:
    sandbox = PushSandbox()
    await sandbox.start()
    try:
        yield sandbox
    finally:
        await sandbox.stop()


def with_push(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"vapid_private_key": SecretStr(VAPID_PRIVATE_KEY), "vapid_subject": VAPID_SUBJECT}
    )


def browser_subscription(push: PushSandbox, server_key: str = APPLICATION_SERVER_KEY) -> Any:
    """What ``PushSubscription.toJSON()`` gives, bound to our application server key."""
    return {**push.new_subscription(application_server_key=server_key), "expirationTime": None}


async def subscribe_contact(
    client: httpx.AsyncClient, key: str, contact_id: int, subscription: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/contacts/{contact_id}/push-subscriptions", headers=auth(key), json=subscription
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def follow(
    client: httpx.AsyncClient, subscription: dict[str, Any], **organisation: object
) -> httpx.Response:
    return await client.post("/api/v1/push/follow", json={**subscription, **organisation})


async def push_rows(
    factory: SessionFactory,
) -> tuple[list[PushSubscription], list[ContactPoint], list[Contact]]:
    """Every subscription, push contact point and follower contact, by id."""
    async with transaction(factory) as session:
        subscriptions = await session.execute(
            select(PushSubscription).order_by(PushSubscription.id)
        )
        points = await session.execute(
            select(ContactPoint).where(ContactPoint.channel == "push").order_by(ContactPoint.id)
        )
        followers = await session.execute(
            select(Contact).where(Contact.role == "follower").order_by(Contact.id)
        )
        return list(subscriptions.scalars()), list(points.scalars()), list(followers.scalars())

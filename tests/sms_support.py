"""Shared by the SMS tests: a Twilio sandbox account, settings pointing at it, families."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import httpx
from redis.asyncio import Redis
from twilio.request_validator import RequestValidator

from broadcast.core.db import create_engine, session_factory
from broadcast.deliveries.callback_stream import CallbackStream
from broadcast.deliveries.early_status import EarlyStatuses
from broadcast.directory.models import ContactRole
from broadcast.directory.schemas import ContactIn
from broadcast.sandbox.twilio import Deliver, TwilioSandbox
from broadcast.settings import Settings, TwilioAccount

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "sandbox-auth-token-0123"
STOP_NUMBER = "+33700000000"


@asynccontextmanager
async def running_sandbox() -> AsyncIterator[TwilioSandbox]:
    sandbox = TwilioSandbox(ACCOUNT_SID, AUTH_TOKEN)
    await sandbox.start()
    try:
        yield sandbox
    finally:
        await sandbox.stop()


def account(sandbox: TwilioSandbox, **overrides: object) -> TwilioAccount:
    values: dict[str, object] = {
        "name": "test",
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "sender_id": "Rectorat",
        "two_way_number": STOP_NUMBER,
        "base_url": sandbox.base_url,
    }
    values.update(overrides)
    return TwilioAccount.model_validate(values)


def with_sms(settings: Settings, sandbox: TwilioSandbox) -> Settings:
    return settings.model_copy(update={"twilio_accounts": [account(sandbox)]})


def families(school_id: int, count: int) -> list[ContactIn]:
    """Guardians with an email and a mobile: parentN@familles.fr and +336000000NN."""
    return [
        ContactIn(
            organisation_id=school_id,
            first_name="P",
            last_name=f"F{n}",
            role=ContactRole.guardian,
            level="6e",
            division="6e A",
            email=f"parent{n}@familles.fr",
            mobile=mobile(n),
        )
        for n in range(count)
    ]


def mobile(n: int) -> str:
    return f"+336000000{n:02d}"


def through(client: httpx.AsyncClient, settings: Settings) -> Deliver:
    """Deliver the sandbox's callbacks to the in-process app, at the path of the public URL,
    and apply each as a worker does, from the callback stream."""

    async def deliver(url: str, params: dict[str, str], headers: dict[str, str]) -> int:
        response = await client.post(urlsplit(url).path, data=params, headers=headers)
        await apply_callbacks(settings)
        return response.status_code

    return deliver


async def apply_callbacks(settings: Settings) -> int:
    """What a worker's callback applier does: the stream drained into the ledger."""
    assert settings.redis_url is not None
    redis = Redis.from_url(settings.redis_url)
    engine = create_engine(settings)
    try:
        stream = CallbackStream(redis)
        return await stream.drain(session_factory(engine), EarlyStatuses(redis), "tests")
    finally:
        await engine.dispose()
        await redis.aclose()


def sign(settings: Settings, path: str, params: dict[str, str]) -> dict[str, str]:
    url = settings.public_base_url + path
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
    return {"X-Twilio-Signature": signature}

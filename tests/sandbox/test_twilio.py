"""The Twilio sandbox: Twilio's answers, auth, injected failures and signed callbacks over HTTP."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from twilio.request_validator import RequestValidator

from broadcast.sandbox.twilio import TwilioSandbox
from tests.sms_support import ACCOUNT_SID, AUTH_TOKEN, running_sandbox


@pytest.fixture
async def sandbox() -> AsyncIterator[TwilioSandbox]:
    async with running_sandbox() as server:
        server.callback_delay_s = 0.0
        yield server


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[tuple[str, dict[str, str], bool]]]]:
    """A real HTTP endpoint recording each callback and whether its signature is valid."""
    received: list[tuple[str, dict[str, str], bool]] = []
    validator = RequestValidator(AUTH_TOKEN)

    async def record(request: web.Request) -> web.Response:
        params = {k: str(v) for k, v in (await request.post()).items()}
        valid = validator.validate(str(request.url), params, request.headers["X-Twilio-Signature"])
        received.append((request.path, params, bool(valid)))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/{name}", record)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}", received
    await runner.cleanup()


async def create(
    sandbox: TwilioSandbox, token: str = AUTH_TOKEN, **form: str
) -> aiohttp.ClientResponse:
    url = f"{sandbox.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    async with aiohttp.ClientSession() as session:
        credentials = base64.b64encode(f"{ACCOUNT_SID}:{token}".encode()).decode()
        headers = {"Authorization": f"Basic {credentials}"}
        response = await session.post(url, data=form, headers=headers)
        await response.read()
        return response


async def test_accepts_records_and_calls_back_signed(
    sandbox: TwilioSandbox, receiver: tuple[str, list[tuple[str, dict[str, str], bool]]]
) -> None:
    base, received = receiver
    sandbox.final_status("+33600000009", "undelivered", 30005)
    for to in ("+33600000001", "+33600000009"):
        answer = await create(
            sandbox, To=to, From="Rectorat", Body="Bonjour", StatusCallback=f"{base}/status"
        )
        assert answer.status == 201
    await sandbox.settle()

    assert [m.to for m in sandbox.messages] == ["+33600000001", "+33600000009"]
    assert all(valid for _, _, valid in received)
    by_number = {
        to: [(p["MessageStatus"], p.get("ErrorCode")) for _, p, _ in received if p["To"] == to]
        for to in ("+33600000001", "+33600000009")
    }
    assert by_number == {
        "+33600000001": [("sent", None), ("delivered", None)],
        "+33600000009": [("sent", None), ("undelivered", "30005")],
    }

    sandbox.inbound_url = f"{base}/inbound"
    assert await sandbox.send_inbound("+33600000001", "+33700000000", "STOP") == 204
    path, params, valid = received[-1]
    assert (path, params["Body"], valid) == ("/inbound", "STOP", True)


async def test_refuses_bad_auth_and_fails_on_demand(sandbox: TwilioSandbox) -> None:
    assert (await create(sandbox, "wrong", To="+33600000001", From="Rectorat")).status == 401
    sandbox.fail_next(503, times=2)
    statuses = [(await create(sandbox, To="+33600000001", From="R")).status for _ in range(3)]
    assert statuses == [503, 503, 201]
    assert len(sandbox.messages) == 1

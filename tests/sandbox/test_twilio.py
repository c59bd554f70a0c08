"""The Twilio sandbox: Twilio's answers, auth, injected failures and signed callbacks over HTTP."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from twilio.request_validator import RequestValidator

from broadcast.sandbox.twilio import LossPoint, TwilioSandbox
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


async def list_messages(
    sandbox: TwilioSandbox, token: str = AUTH_TOKEN, **query: str
) -> tuple[int, dict[str, Any]]:
    url = f"{sandbox.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    credentials = base64.b64encode(f"{ACCOUNT_SID}:{token}".encode()).decode()
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, params=query, headers={"Authorization": f"Basic {credentials}"}) as got,
    ):
        return got.status, await got.json()


async def test_lists_messages_newest_first_in_twilios_page_format(sandbox: TwilioSandbox) -> None:
    for to, body in (("+33600000001", "un"), ("+33600000002", "deux"), ("+33600000001", "trois")):
        assert (await create(sandbox, To=to, From="Rectorat", Body=body)).status == 201
    status, page = await list_messages(sandbox, To="+33600000001", PageSize="20")
    assert status == 200
    assert [(m["to"], m["body"], m["from"]) for m in page["messages"]] == [
        ("+33600000001", "trois", "Rectorat"),
        ("+33600000001", "un", "Rectorat"),
    ]
    assert page["messages"][0]["sid"] == sandbox.messages[2].sid
    assert parsedate_to_datetime(page["messages"][0]["date_created"]).tzinfo is not None
    assert (page["next_page_uri"], page["page"], page["page_size"]) == (None, 0, 20)
    assert page["first_page_uri"].startswith(f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json?")
    assert (await list_messages(sandbox, From="Autre"))[1]["messages"] == []
    assert (await list_messages(sandbox, "wrong"))[0] == 401
    sandbox.fail_next_list(500)
    assert (await list_messages(sandbox))[0] == 500
    assert len((await list_messages(sandbox))[1]["messages"]) == 3


@pytest.mark.parametrize(("where", "recorded"), [("before_create", 0), ("after_create", 1)])
async def test_loses_a_create_before_or_after_recording_it(
    sandbox: TwilioSandbox, where: LossPoint, recorded: int
) -> None:
    sandbox.lose_next(where)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await create(sandbox, To="+33600000001", From="R", Body="x")
    assert len(sandbox.messages) == recorded
    assert (await create(sandbox, To="+33600000001", From="R", Body="x")).status == 201


@pytest.mark.parametrize(("body", "status"), [("a" * 1600, 201), ("🚌" * 800, 201)])
async def test_accepts_a_body_at_twilios_limit(
    sandbox: TwilioSandbox, body: str, status: int
) -> None:
    answer = await create(sandbox, To="+33600000001", From="Rectorat", Body=body)
    assert answer.status == status
    assert [m.body for m in sandbox.messages] == [body]


@pytest.mark.parametrize("body", ["a" * 1601, "a" * 1599 + "🚌"])
async def test_refuses_a_body_over_1600_characters_as_twilio_does(
    sandbox: TwilioSandbox, body: str
) -> None:
    answer = await create(sandbox, To="+33600000001", From="Rectorat", Body=body)
    assert answer.status == 400
    error = await answer.json()
    assert (error["code"], error["status"]) == (21617, 400)
    assert error["message"] == "The concatenated message body exceeds the 1600 character limit."
    assert sandbox.messages == []

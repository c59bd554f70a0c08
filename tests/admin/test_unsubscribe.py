"""RULES E1: the List-Unsubscribe URL of a message works with a one-click POST and no session."""

from __future__ import annotations

import re

from broadcast.core.db import SessionFactory, transaction
from broadcast.directory.service import is_suppressed
from broadcast.sandbox.smtp import SmtpSink
from broadcast.settings import Settings
from tests.support import (
    add_contacts,
    api,
    build_world,
    guardians,
    run_burst_workers,
    send_broadcast,
)


async def test_one_click_unsubscribe_suppresses_the_address(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 2))
    audience = {"organisation_ids": [world.school_x]}
    async with api(settings) as client:
        await send_broadcast(client, world.keys["head_x"], world.school_x, audience)
        await run_burst_workers(settings)
        message = sink.by_recipient()["parent1@familles.fr"][0].message
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        url = re.fullmatch(r"<(https://broadcast\.test(/u/\S+))>", message["List-Unsubscribe"])
        assert url is not None
        page = await client.get(url.group(2))
        clicked = await client.post(
            url.group(2),
            content="List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        forged = await client.post(url.group(2)[:-2] + "xx")
        second = await send_broadcast(client, world.keys["head_x"], world.school_x, audience)
    assert page.status_code == 200 and "désinscription" in page.text
    assert clicked.status_code == 200 and "désinscrit" in clicked.text
    assert forged.status_code == 404
    async with transaction(factory) as session:
        assert await is_suppressed(session, "email", "parent1@familles.fr")
        assert not await is_suppressed(session, "email", "parent0@familles.fr")
    assert second["preview"]["channels"][0]["recipients"] == 1

"""Issue 9, item 11: a suppression belongs to an address, not to a school. A head teacher who
adds a contact with an address another school's family stopped learns only that the address does
not receive messages, never why nor since when; the command line (the DSI) sees the detail."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from broadcast.cli import main
from broadcast.core.db import SessionFactory, transaction
from broadcast.directory.privacy import NO_MESSAGES
from broadcast.directory.service import suppress
from broadcast.settings import Settings, get_settings
from tests.conftest import TEST_SECRET
from tests.support import api, auth, build_world

FAMILY = "famille.weber@exemple.fr"


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("BROADCAST_ENV", "dev")
    monkeypatch.setenv("BROADCAST_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("BROADCAST_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def test_head_teacher_learns_only_that_the_address_receives_nothing(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    async with transaction(factory) as session:
        await suppress(session, "email", FAMILY, "unsubscribe", "lien de désinscription")
    async with api(settings) as client:
        created = await client.post(
            "/api/v1/contacts",
            headers=auth(world.keys["head_x"]),
            json={
                "organisation_id": world.school_x,
                "first_name": "Curieux",
                "last_name": "Voisin",
                "role": "guardian",
                "email": FAMILY,
            },
        )
        assert created.status_code == 201, created.text
        export = await client.get(
            f"/api/v1/contacts/{created.json()['id']}/export", headers=auth(world.keys["head_x"])
        )
    assert export.status_code == 200, export.text
    assert export.json()["suppressions"] == [
        {"channel": "email", "address": FAMILY, "receives_messages": False, "message": NO_MESSAGES}
    ]
    assert NO_MESSAGES == "Cette adresse ne reçoit pas de messages sur ce canal."
    suppressions = json.dumps(export.json()["suppressions"], ensure_ascii=False)
    assert "unsubscribe" not in export.text and "désinscription" not in export.text
    assert "created_at" not in suppressions and "reason" not in suppressions


async def test_the_command_line_export_keeps_the_reason(
    settings: Settings, factory: SessionFactory, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    world = await build_world(factory)
    async with transaction(factory) as session:
        await suppress(session, "email", FAMILY, "unsubscribe")
    async with api(settings) as client:
        created = await client.post(
            "/api/v1/contacts",
            headers=auth(world.keys["head_x"]),
            json={"organisation_id": world.school_x, "role": "guardian", "email": FAMILY},
        )
        assert created.status_code == 201, created.text
    assert await asyncio.to_thread(main, ["export-person", "--email", FAMILY]) == 0
    [suppression] = json.loads(capsys.readouterr().out)["suppressions"]
    assert (suppression["reason"], suppression["address"]) == ("unsubscribe", FAMILY)
    assert "created_at" in suppression

"""Routes without a key: health, errors in the API's JSON shape, the demo outbox."""

from __future__ import annotations

import httpx

from admin.app import create_app
from broadcast.db import SessionFactory
from broadcast.sandbox.smtp import SmtpSink
from broadcast.settings import Settings
from tests.support import add_contacts, build_world, guardians, run_burst_workers, send_broadcast


async def test_unknown_address_is_a_french_json_error(
    settings: Settings, factory: SessionFactory
) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            missing = await client.get("/api/v1/nulle-part")
            english = await client.get("/api/v1/nulle-part", headers={"Accept-Language": "en"})
            health = await client.get("/healthz")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "Cette adresse n'existe pas."
    assert english.json()["error"]["message"] == "No such address."
    assert health.json() == {"status": "ok"}


async def test_demo_outbox_lists_what_the_sink_received(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 2))
    app = create_app(settings, outbox=sink)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            await send_broadcast(
                client, world.keys["head_x"], world.school_x, {"organisation_ids": [world.school_x]}
            )
            await run_burst_workers(settings)
            outbox = (await client.get("/demo/outbox")).json()
    assert outbox["total"] == 2
    first = outbox["email"][0]
    assert first["subject"].endswith("ENT indisponible")
    assert "L'ENT est indisponible ce matin." in first["text"]
    assert "@familles.fr" not in first["to"]  # masked

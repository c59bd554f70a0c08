"""Routes without a key: health, errors in the API's JSON shape, the demo outbox."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

import aiosmtplib
import httpx

from admin.app import create_app
from admin.public import DemoOutbox
from broadcast.core.db import SessionFactory
from broadcast.sandbox.smtp import SmtpSink
from broadcast.sandbox.twilio import SmsMessage, TwilioSandbox
from broadcast.settings import Settings
from tests.sms_support import ACCOUNT_SID, AUTH_TOKEN, families, running_sandbox, through, with_sms
from tests.support import add_contacts, build_world, run_burst_workers, send_broadcast


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


async def test_demo_outbox_lists_what_the_sink_and_the_sandbox_received(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, families(world.school_x, 2))
    async with running_sandbox() as sandbox:
        settings = with_sms(settings, sandbox)
        app = create_app(settings, outbox=DemoOutbox(sink, sandbox))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                sandbox.deliver = through(client, settings)
                await send_broadcast(
                    client,
                    world.keys["head_x"],
                    world.school_x,
                    {"organisation_ids": [world.school_x]},
                    ["email", "sms"],
                )
                await run_burst_workers(settings)
                await sandbox.settle()
                outbox = (await client.get("/demo/outbox")).json()
    assert outbox["total"] == {"email": 2, "sms": 2, "push": 0}
    first = outbox["email"][0]
    assert first["subject"].endswith("ENT indisponible")
    assert "L'ENT est indisponible ce matin." in first["text"]
    assert "@familles.fr" not in first["to"]  # masked
    assert [m["status"] for m in outbox["sms"]] == ["delivered", "delivered"]
    sms = outbox["sms"][0]
    assert sms["body"].startswith("[Collège Org 0670100V] L'ENT est indisponible ce matin.")
    assert sms["to"].startswith("+336") and "*" in sms["to"]  # masked
    assert sms["received_at"] >= outbox["sms"][1]["received_at"]  # newest first


async def test_demo_page_shows_both_tables_escaped(settings: Settings, sink: SmtpSink) -> None:
    message = EmailMessage()
    message["From"] = "ne-pas-repondre@broadcast.invalid"
    message["To"] = "jeanne.martin@familles.fr"
    message["Subject"] = 'Cours <annulés> & "reportés"'
    message.set_content("Bonjour.")
    await aiosmtplib.send(message, hostname="127.0.0.1", port=sink.port)
    sandbox = TwilioSandbox(ACCOUNT_SID, AUTH_TOKEN)  # never started: only its record is read
    sandbox.messages.append(
        SmsMessage(
            sid="SM" + "0" * 32,
            to="+33612345678",
            body="Rappel <b>demain</b>",
            sender="Rectorat",
            status_callback=None,
            received_at=datetime.now(UTC),
            callbacks=["sent", "delivered"],
        )
    )
    app = create_app(settings, outbox=DemoOutbox(sink, sandbox))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        page = await client.get("/demo")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    text = page.text
    assert "Boîte d'envoi de la démo" in text
    assert '<meta http-equiv="refresh" content="3">' in text
    assert "Cours &lt;annulés&gt; &amp; &#34;reportés&#34;" in text
    assert "<annulés>" not in text
    assert "Rappel &lt;b&gt;demain&lt;/b&gt;" in text
    assert "delivered" in text
    assert "jeanne.martin" not in text and "+33612345678" not in text  # masked
    assert "<script" not in text

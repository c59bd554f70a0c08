"""English by the operator's choice (issue 11): every French string of the incident, report and
audit log pages has its English form, and an English operator reads the pages and his reminder
in English."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from sqlalchemy import update
from sqlmodel import col

from admin.console.texts import ENGLISH
from broadcast.accounts.models import Operator
from broadcast.core.db import SessionFactory, transaction
from broadcast.core.timeutil import utcnow
from broadcast.sandbox.smtp import SmtpSink
from broadcast.settings import Settings
from tests.console.console_support import give_password, sign_in
from tests.support import api, auth, build_world
from workers.resources import Resources
from workers.tasks import remind_next_updates

TEMPLATES = Path(__file__).parents[2] / "templates" / "console"
PAGES = (
    "incidents.html",
    "incident.html",
    "_reports.html",
    "_report_groups.html",
    "_own_reports.html",
    "journal.html",
    "signin.html",
    "forgot.html",
    "link.html",
    "link_gone.html",
    "operators.html",
    "operator_invite.html",
    "operator.html",
    "operator_confirm.html",
    "_integrations.html",
    "api_keys.html",
    "api_key_new.html",
    "api_key_created.html",
    "api_key.html",
    "api_key_revoke.html",
    "webhooks.html",
    "webhook_new.html",
    "webhook_created.html",
    "webhook.html",
    "webhook_confirm.html",
    "_contacts_nav.html",
    "contacts.html",
    "contact.html",
    "opposition.html",
    "opposition_lift.html",
    "imports.html",
    "import.html",
)
_WORDS = re.compile(r"""_\((["'])(.+?)\1[,)]""")
_DONE = re.compile(r'"[a-z]+": "([^"]+)"')


def test_every_french_string_of_these_pages_has_its_english_form() -> None:
    missing = []
    for name in PAGES:
        text = (TEMPLATES / name).read_text(encoding="utf-8")
        strings = [found[1] for found in _WORDS.findall(text)]
        done = re.search(r"{% set done_texts = {(.*?)} %}", text)
        strings += _DONE.findall(done.group(1)) if done else []
        assert strings, name
        missing += [(name, s) for s in strings if s not in ENGLISH]
    assert missing == []


async def test_an_english_operator_reads_the_pages_and_his_reminder_in_english(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    officer = await give_password(factory, "officer@test.fr", with_totp=True)
    async with transaction(factory) as session:
        await session.execute(
            update(Operator).where(col(Operator.email) == officer.email).values(locale="en")
        )
    async with api(settings) as client:
        answer = await client.post(
            "/api/v1/notices",
            headers=auth(world.keys["officer"]),
            json={
                "organisation_id": world.academie,
                "title": "ENT down",
                "message": "First point.",
                "next_update_at": (utcnow() + timedelta(minutes=2)).isoformat(),
            },
        )
        notice_id = answer.json()["id"]
        await sign_in(client, officer)
        incident = await client.get(f"/console/incidents/{notice_id}")
        board = await client.get("/console/")
        journal = await client.get("/console/journal")
    assert "Post an update" in incident.text and "Stages of the incident" in incident.text
    assert "Next update at" in incident.text and "Investigating" in incident.text
    assert "Reports from schools" in board.text and "No report waiting." in board.text
    assert "Audit log" in journal.text and "Notice created" in journal.text
    assert settings.redis_url is not None
    resources = await Resources.open(settings, settings.redis_url)
    try:
        assert await remind_next_updates({"resources": resources}) == 1
    finally:
        await resources.close()
    (mail,) = sink.messages
    assert mail.subject.startswith("Update promised at ") and mail.subject.endswith(": ENT down")
    assert "You announced the next update" in mail.message.get_content()

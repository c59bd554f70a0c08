"""The audit log page (issue 11, item 9, in part): entries in scope, newest first, filtered by
action and days, a CSV export that is itself audited; French refusals of bad dates; a head
teacher reads nothing of another school's entries; a viewer has no log. Both databases."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlmodel import col

from broadcast.accounts.models import AuditEvent
from broadcast.core.db import SessionFactory
from broadcast.directory.uai import make_uai
from broadcast.settings import Settings
from broadcast.status.timefmt import PARIS
from tests.console.console_support import give_password, sign_in
from tests.support import api, auth, build_world

X, Y = make_uai("0670100"), make_uai("0670200")


async def _notices(settings: Settings, keys: dict[str, str], world_x: int, world_y: int) -> None:
    async with api(settings) as client:
        for key, school in ((keys["head_x"], world_x), (keys["head_y"], world_y)):
            answer = await client.post(
                "/api/v1/notices",
                headers=auth(key),
                json={"organisation_id": school, "title": "Sortie annulée", "message": "Point."},
            )
            assert answer.status_code == 201


async def test_the_log_shows_the_schools_entries_filters_them_and_exports_them(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    await _notices(settings, world.keys, world.school_x, world.school_y)
    head = await give_password(factory, "head_x@test.fr")
    today = datetime.now(PARIS).date()
    async with api(settings) as client:
        await sign_in(client, head)
        everything = await client.get("/console/journal")
        created = await client.get("/console/journal", params={"action": "notice.create"})
        today_only = await client.get(
            "/console/journal", params={"du": today.isoformat(), "au": today.isoformat()}
        )
        tomorrow = await client.get(
            "/console/journal", params={"du": (today + timedelta(days=1)).isoformat()}
        )
        exported = await client.get("/console/journal/export", params={"action": "notice.create"})
    assert everything.status_code == 200
    assert "Avis créé" in everything.text and "Connexion" in everything.text
    assert X in everything.text and Y not in everything.text
    assert "Avis créé" in created.text and "<td>Connexion</td>" not in created.text
    assert "Avis créé" in today_only.text
    assert "Aucune entrée ne correspond." in tomorrow.text
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["action"], r["organisation_code"]) for r in rows] == [("notice.create", X)]
    async with factory() as session:
        export = (
            await session.execute(
                select(AuditEvent).where(col(AuditEvent.action) == "audit.export")
            )
        ).scalar_one()
    assert export.details["rows"] == 1 and export.details["filters"]["action"] == "notice.create"


async def test_bad_dates_are_refused_in_french(settings: Settings, factory: SessionFactory) -> None:
    await build_world(factory)
    head = await give_password(factory, "head_x@test.fr")
    async with api(settings) as client:
        await sign_in(client, head)
        unreadable = await client.get("/console/journal", params={"du": "32/13/2026"})
        backwards = await client.get(
            "/console/journal", params={"du": "2026-12-03", "au": "2026-12-01"}
        )
        export = await client.get("/console/journal/export", params={"au": "hier"})
        cursor = await client.get("/console/journal", params={"avant": "-1"})
    assert unreadable.status_code == 422
    assert "Date de début illisible : « 32/13/2026 ». Écrivez-la ainsi : 2026-12-03." in (
        unreadable.text
    )
    assert backwards.status_code == 422
    assert "La date de fin précède la date de début." in backwards.text
    assert export.status_code == 422 and "Date de fin illisible" in export.text
    assert cursor.status_code == 422


async def test_a_viewer_has_no_log(settings: Settings, factory: SessionFactory) -> None:
    await build_world(factory)
    viewer = await give_password(factory, "viewer_x@test.fr")
    async with api(settings) as client:
        await sign_in(client, viewer)
        home = await client.get("/console/")
        refused = await client.get("/console/journal")
    assert 'href="/console/journal"' not in home.text
    assert refused.status_code == 403 and "Votre rôle ne permet pas cette action." in refused.text

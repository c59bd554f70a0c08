"""Console incidents (issue 11, item 6): the list with the open ones first, an incident's
lifecycle and timeline, posting an update with "prochaine mise à jour à 10 h 30", changing the
state, French refusals of bad input, scope (RULES A1), and the reminder emailed to the author
five minutes before the promised time, once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import col

from broadcast.core.db import SessionFactory
from broadcast.core.timeutil import as_utc, utcnow
from broadcast.notices.models import Notice, NoticeUpdate
from broadcast.sandbox.smtp import SmtpSink
from broadcast.settings import Settings
from broadcast.status.timefmt import PARIS, clock
from tests.console.console_support import give_password, post_form, sign_in
from tests.support import World, api, auth, build_world
from workers.resources import Resources
from workers.tasks import remind_next_updates


async def _notice(
    client: httpx.AsyncClient, key: str, organisation: int, title: str, **extra: Any
) -> int:
    answer = await client.post(
        "/api/v1/notices",
        headers=auth(key),
        json={
            "organisation_id": organisation,
            "title": title,
            "message": "Premier point.",
            **extra,
        },
    )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


async def _updates(factory: SessionFactory, notice_id: int) -> int:
    async with factory() as session:
        query = select(func.count()).where(col(NoticeUpdate.notice_id) == notice_id)
        return int(await session.scalar(query) or 0)


async def _read(factory: SessionFactory, notice_id: int) -> Notice:
    async with factory() as session:
        notice = await session.get(Notice, notice_id)
        assert notice is not None
        return notice


async def _officer_client(settings: Settings, factory: SessionFactory) -> tuple[World, Any]:
    world = await build_world(factory)
    officer = await give_password(factory, "officer@test.fr", with_totp=True)
    return world, officer


def _in_paris(minutes: int) -> str:
    """``HH:MM`` so many minutes from now, Paris time; skipped when it falls tomorrow."""
    now = datetime.now(PARIS)
    later = now + timedelta(minutes=minutes)
    if later.date() != now.date():
        pytest.skip("the promised time would fall tomorrow")
    return later.strftime("%H:%M")


async def test_the_list_shows_open_incidents_first_and_the_page_its_lifecycle_and_timeline(
    settings: Settings, factory: SessionFactory
) -> None:
    world, officer = await _officer_client(settings, factory)
    key = world.keys["officer"]
    async with api(settings) as client:
        resolved = await _notice(client, key, world.academie, "Panne de messagerie réglée")
        await client.post(
            f"/api/v1/notices/{resolved}/updates",
            headers=auth(key),
            json={"status": "resolved", "message": "La messagerie fonctionne de nouveau."},
        )
        open_one = await _notice(client, key, world.school_x, "ENT indisponible au collège")
        await client.post(
            f"/api/v1/notices/{open_one}/updates",
            headers=auth(key),
            json={"status": "identified", "message": "Un serveur de l'ENT est arrêté."},
        )
        await sign_in(client, officer)
        listing = await client.get("/console/incidents")
        shown = await client.get(f"/console/incidents/{open_one}")
    assert listing.status_code == 200
    text = listing.text
    assert text.index("ENT indisponible au collège") < text.index("Panne de messagerie réglée")
    assert (
        text.index("Incidents en cours")
        < text.index("ENT indisponible")
        < text.index("Incidents résolus")
    )
    assert shown.status_code == 200
    page = shown.text
    assert '<li aria-current="step" class="current">Cause identifiée</li>' in page
    timeline = page[page.index("Historique") :]
    assert timeline.index("Un serveur de l&#39;ENT est arrêté.") < timeline.index("Premier point.")
    assert "officer" in timeline


async def test_an_update_with_a_promised_time_is_posted_and_shown_on_the_incident(
    settings: Settings, factory: SessionFactory
) -> None:
    world, officer = await _officer_client(settings, factory)
    promised = _in_paris(40)
    async with api(settings) as client:
        notice_id = await _notice(client, world.keys["officer"], world.academie, "ENT lent")
        await sign_in(client, officer)
        posted = await post_form(
            client,
            f"/console/incidents/{notice_id}/mises-a-jour",
            {
                "status": "monitoring",
                "message": "Le correctif est installé.",
                "prochaine": promised,
            },
            from_page=f"/console/incidents/{notice_id}",
        )
        assert posted.status_code == 303
        shown = await client.get(posted.headers["location"])
        dashboard = await client.get("/console/")
    notice = await _read(factory, notice_id)
    assert notice.status == "monitoring" and notice.next_update_at is not None
    assert as_utc(notice.next_update_at).astimezone(PARIS).strftime("%H:%M") == promised
    assert await _updates(factory, notice_id) == 2
    expected = f"Prochaine mise à jour à {clock(notice.next_update_at, 'fr')}"
    assert expected in shown.text and "Mise à jour publiée." in shown.text
    assert "Le correctif est installé." in shown.text
    assert "prochaine mise à jour à " + clock(notice.next_update_at, "fr") in dashboard.text


async def test_the_state_changes_without_a_message(
    settings: Settings, factory: SessionFactory
) -> None:
    world, officer = await _officer_client(settings, factory)
    async with api(settings) as client:
        notice_id = await _notice(client, world.keys["officer"], world.academie, "ENT lent")
        await sign_in(client, officer)
        changed = await post_form(
            client,
            f"/console/incidents/{notice_id}/etat",
            {"status": "resolved"},
            from_page=f"/console/incidents/{notice_id}",
        )
        listing = await client.get("/console/incidents")
    assert changed.status_code == 303
    assert (await _read(factory, notice_id)).status == "resolved"
    assert listing.text.index("Incidents résolus") < listing.text.index("ENT lent")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"status": "identified", "message": ""}, "« message »"),
        ({"status": "identified", "message": "Point.", "prochaine": "25:00"}, "illisible"),
        ({"status": "identified", "message": "Point.", "prochaine": "00:00"}, "est déjà passée"),
        ({"status": "en panne", "message": "Point."}, "« status »"),
    ],
)
async def test_bad_update_input_is_refused_in_french_and_writes_nothing(
    settings: Settings, factory: SessionFactory, fields: dict[str, str], message: str
) -> None:
    world, officer = await _officer_client(settings, factory)
    async with api(settings) as client:
        notice_id = await _notice(client, world.keys["officer"], world.academie, "ENT lent")
        await sign_in(client, officer)
        refused = await post_form(
            client,
            f"/console/incidents/{notice_id}/mises-a-jour",
            fields,
            from_page=f"/console/incidents/{notice_id}",
        )
        bad_state = await post_form(
            client,
            f"/console/incidents/{notice_id}/etat",
            {"status": "fini"},
            from_page=f"/console/incidents/{notice_id}",
        )
    assert refused.status_code == 422
    assert message in refused.text and 'role="alert"' in refused.text
    assert bad_state.status_code == 422 and "État inconnu : « fini »." in bad_state.text
    assert await _updates(factory, notice_id) == 1
    assert (await _read(factory, notice_id)).status == "investigating"


async def test_a_head_teacher_sees_nothing_of_another_school(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    head_x = await give_password(factory, "head_x@test.fr")
    async with api(settings) as client:
        of_y = await _notice(client, world.keys["head_y"], world.school_y, "Cantine fermée à Y")
        of_x = await _notice(client, world.keys["head_x"], world.school_x, "Sortie annulée à X")
        await sign_in(client, head_x)
        listing = await client.get("/console/incidents")
        other = await client.get(f"/console/incidents/{of_y}")
        post = await post_form(
            client,
            f"/console/incidents/{of_y}/mises-a-jour",
            {"status": "resolved", "message": "Fin."},
            from_page=f"/console/incidents/{of_x}",
        )
        bad_id = await client.get("/console/incidents/pas-un-nombre")
    assert "Sortie annulée à X" in listing.text and "Cantine fermée à Y" not in listing.text
    assert other.status_code == 404 and "Cantine" not in other.text
    assert post.status_code == 404
    assert bad_id.status_code == 422
    assert await _updates(factory, of_y) == 1


async def test_the_author_is_reminded_once_five_minutes_before_the_promised_update(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    soon = (utcnow() + timedelta(minutes=4)).isoformat()
    later = (utcnow() + timedelta(minutes=30)).isoformat()
    async with api(settings) as client:
        key = world.keys["officer"]
        due = await _notice(client, key, world.academie, "ENT lent", next_update_at=soon)
        await _notice(client, key, world.academie, "Messagerie lente", next_update_at=later)
    assert settings.redis_url is not None
    resources = await Resources.open(settings, settings.redis_url)
    try:
        ctx = {"resources": resources}
        assert await remind_next_updates(ctx) == 1
        assert await remind_next_updates(ctx) == 0  # the next tick: already reminded
        assert [m.to for m in sink.messages] == ["officer@test.fr"]
        mail = sink.messages[0]
        promised = clock((await _read(factory, due)).next_update_at or utcnow(), "fr")
        assert mail.subject == f"Mise à jour annoncée à {promised} : ENT lent"
        body = mail.message.get_content()
        assert f"/console/incidents/{due}" in body and f"à {promised}" in body
        async with api(settings) as client:  # a new promise is reminded of again
            answer = await client.post(
                f"/api/v1/notices/{due}/updates",
                headers=auth(key),
                json={
                    "status": "identified",
                    "message": "Cause trouvée.",
                    "next_update_at": (utcnow() + timedelta(minutes=3)).isoformat(),
                },
            )
            assert answer.status_code == 201, answer.text
        assert await remind_next_updates(ctx) == 1
        assert len(sink.messages) == 2
    finally:
        await resources.close()
    notice = await _read(factory, due)
    assert notice.reminded_for == notice.next_update_at


async def test_a_viewer_reads_an_incident_but_may_not_post_to_it(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    viewer = await give_password(factory, "viewer_x@test.fr")
    async with api(settings) as client:
        notice_id = await _notice(client, world.keys["head_x"], world.school_x, "Sortie annulée")
        await sign_in(client, viewer)
        shown = await client.get(f"/console/incidents/{notice_id}")
        refused = await post_form(
            client,
            f"/console/incidents/{notice_id}/etat",
            {"status": "resolved"},
            from_page=f"/console/incidents/{notice_id}",
        )
    assert shown.status_code == 200 and "Publier une mise à jour" not in shown.text
    assert refused.status_code == 403 and "Votre rôle ne permet pas cette action." in refused.text
    assert (await _read(factory, notice_id)).status == "investigating"


async def test_an_incident_is_published_on_the_status_page_then_withdrawn(
    settings: Settings, factory: SessionFactory
) -> None:
    world, officer = await _officer_client(settings, factory)
    async with api(settings) as client:
        notice_id = await _notice(client, world.keys["officer"], world.academie, "ENT arrêté")
        before = await client.get("/status/STRAS")
        await sign_in(client, officer)
        published = await post_form(
            client,
            f"/console/incidents/{notice_id}/publication",
            {"public": "oui"},
            from_page=f"/console/incidents/{notice_id}",
        )
        shown = await client.get(published.headers["location"])
        public_page = await client.get("/status/STRAS")
        await post_form(
            client,
            f"/console/incidents/{notice_id}/publication",
            {"public": "non"},
            from_page=f"/console/incidents/{notice_id}",
        )
        after = await client.get("/status/STRAS")
    assert "ENT arrêté" not in before.text
    assert "Incident publié sur la page d&#39;état." in shown.text
    assert "ENT arrêté" in public_page.text
    assert "ENT arrêté" not in after.text
    assert (await _read(factory, notice_id)).public is False

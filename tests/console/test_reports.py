"""Signalements (issue 11, item 7): a head teacher reports in one tap that a service does not
work at his school; the officer's dashboard counts the schools per service and turns those of a
service into one académie incident, linked to the reports; the reporting schools then see it.
Scope, French refusals and the audit entries, on both databases."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select
from sqlmodel import col

from broadcast.accounts.models import AuditEvent
from broadcast.core.db import SessionFactory
from broadcast.notices.models import Notice
from broadcast.reports.models import ProblemReport
from broadcast.settings import Settings
from broadcast.status.timefmt import clock
from tests.console.console_support import give_password, post_form, sign_in
from tests.support import api, build_world

TITLE = "ENT : problème signalé par les établissements"


async def _reports(factory: SessionFactory) -> list[ProblemReport]:
    async with factory() as session:
        rows = await session.execute(select(ProblemReport).order_by(col(ProblemReport.id)))
        return list(rows.scalars())


async def _actions(factory: SessionFactory) -> Counter[str]:
    async with factory() as session:
        rows = await session.execute(select(col(AuditEvent.action)))
        return Counter(rows.scalars())


async def test_schools_report_the_officer_sees_them_per_service_and_opens_one_incident(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    head_x = await give_password(factory, "head_x@test.fr")
    head_y = await give_password(factory, "head_y@test.fr")
    officer = await give_password(factory, "officer@test.fr", with_totp=True)
    async with api(settings) as x, api(settings) as y, api(settings) as academie:
        await sign_in(x, head_x)
        tapped = await post_form(
            x, "/console/signalements", {"service": "ent"}, from_page="/console/"
        )
        assert tapped.status_code == 303
        thanked = await x.get(tapped.headers["location"])
        assert "Merci : votre signalement (ENT) est transmis à l&#39;académie." in thanked.text
        assert "En attente de prise en charge par l&#39;académie." in thanked.text
        await post_form(x, "/console/signalements", {"service": "ent"}, from_page="/console/")
        await sign_in(y, head_y)
        for service in ("ent", "messagerie"):
            await post_form(y, "/console/signalements", {"service": service}, from_page="/console/")
        await sign_in(academie, officer)
        board = await academie.get("/console/")
        fragment = await academie.get("/console/signalements/en-attente")
        since = clock((await _reports(factory))[0].created_at, "fr")
        assert f"2 établissements signalent un problème ENT depuis {since}" in board.text
        assert f"2 établissements signalent un problème ENT depuis {since}" in fragment.text
        assert "<html" not in fragment.text
        assert "1 établissement signale un problème Messagerie depuis" in board.text
        opened = await post_form(
            academie, "/console/signalements/ent/incident", {}, from_page="/console/"
        )
        assert opened.status_code == 303
        incident = await academie.get(opened.headers["location"])
        board_after = await academie.get("/console/")
        seen_by_x = await x.get("/console/")
        fragment_x = await x.get("/console/signalements/miens")
    assert "Incident ouvert à partir des signalements." in incident.text
    assert "Signalé par 2 établissements : Org 0670100" in incident.text
    assert f"2 établissements signalent un problème ENT depuis {since}" in incident.text
    assert "problème ENT depuis" not in board_after.text
    assert "1 établissement signale un problème Messagerie" in board_after.text
    assert f"L&#39;académie a ouvert un incident : « {TITLE} »" in seen_by_x.text
    assert "2 établissements signalent un problème ENT" in seen_by_x.text
    assert f"L&#39;académie a ouvert un incident : « {TITLE} »" in fragment_x.text
    reports = await _reports(factory)
    assert [(r.organisation_id, r.service) for r in reports] == [
        (world.school_x, "ent"),
        (world.school_y, "ent"),
        (world.school_y, "messagerie"),
    ]
    async with factory() as session:
        notice = (await session.execute(select(Notice))).scalar_one()
    assert notice.organisation_id == world.academie and notice.services == ["ent"]
    assert notice.title == TITLE
    assert [r.notice_id for r in reports] == [notice.id, notice.id, None]
    actions = await _actions(factory)
    assert actions["report.create"] == 3 and actions["report.to_incident"] == 1
    assert actions["notice.create"] == 1


async def test_a_head_teacher_sees_nothing_of_another_schools_reports(
    settings: Settings, factory: SessionFactory
) -> None:
    await build_world(factory)
    head_x = await give_password(factory, "head_x@test.fr")
    head_y = await give_password(factory, "head_y@test.fr")
    async with api(settings) as x, api(settings) as y:
        await sign_in(y, head_y)
        await post_form(y, "/console/signalements", {"service": "transport"}, from_page="/console/")
        await sign_in(x, head_x)
        board = await x.get("/console/")
        fragment = await x.get("/console/signalements/en-attente")
        gather = await post_form(
            x, "/console/signalements/transport/incident", {}, from_page="/console/"
        )
    assert board.status_code == 200 and fragment.status_code == 200
    assert "Transport" not in fragment.text
    assert "Vos signalements" not in board.text and "Transport signalé" not in board.text
    assert gather.status_code == 403
    assert "Votre rôle ne permet pas cette action." in gather.text
    assert [r.notice_id for r in await _reports(factory)] == [None]


async def test_bad_reports_are_refused_in_french_and_write_nothing(
    settings: Settings, factory: SessionFactory
) -> None:
    await build_world(factory)
    head_x = await give_password(factory, "head_x@test.fr")
    officer = await give_password(factory, "officer@test.fr", with_totp=True)
    async with api(settings) as x, api(settings) as academie:
        await sign_in(x, head_x)
        unknown = await post_form(
            x, "/console/signalements", {"service": "cantine"}, from_page="/console/"
        )
        forged = await x.post("/console/signalements", data={"service": "ent"})
        await sign_in(academie, officer)
        not_a_school = await post_form(
            academie, "/console/signalements", {"service": "ent"}, from_page="/console/"
        )
        nothing_waiting = await post_form(
            academie, "/console/signalements/ent/incident", {}, from_page="/console/"
        )
        empty = await academie.get("/console/")
    assert unknown.status_code == 422 and "Service inconnu : cantine." in unknown.text
    assert forged.status_code == 403 and "Ce formulaire a expiré." in forged.text
    assert not_a_school.status_code == 422
    assert "Seul un établissement peut signaler un problème." in not_a_school.text
    assert nothing_waiting.status_code == 404
    assert "Aucun signalement en attente pour ce service." in nothing_waiting.text
    assert "Aucun signalement en attente." in empty.text
    assert await _reports(factory) == []
    assert (await _actions(factory))["report.create"] == 0


async def test_a_report_made_once_the_incident_is_open_joins_it(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    head_x = await give_password(factory, "head_x@test.fr")
    head_y = await give_password(factory, "head_y@test.fr")
    officer = await give_password(factory, "officer@test.fr", with_totp=True)
    async with api(settings) as x, api(settings) as y, api(settings) as academie:
        await sign_in(x, head_x)
        await post_form(x, "/console/signalements", {"service": "ent"}, from_page="/console/")
        await sign_in(academie, officer)
        opened = await post_form(
            academie, "/console/signalements/ent/incident", {}, from_page="/console/"
        )
        await sign_in(y, head_y)
        await post_form(y, "/console/signalements", {"service": "ent"}, from_page="/console/")
        await post_form(y, "/console/signalements", {"service": "ent"}, from_page="/console/")
        seen_by_y = await y.get("/console/")
        board = await academie.get("/console/")
        incident = await academie.get(opened.headers["location"])
    async with factory() as session:
        notice_id = (await session.execute(select(col(Notice.id)))).scalar_one()
    reports = await _reports(factory)
    assert [(r.organisation_id, r.notice_id) for r in reports] == [
        (world.school_x, notice_id),
        (world.school_y, notice_id),
    ]
    assert f"L&#39;académie a ouvert un incident : « {TITLE} »" in seen_by_y.text
    assert "Aucun signalement en attente." in board.text
    assert "Signalé par 2 établissements : Org 0670100" in incident.text

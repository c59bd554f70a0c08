"""Signalements and incidents in Chromium (issue 11, items 6, 7 and 11): a head teacher on his
phone reports the ENT down in one tap; the officer sees the count on his dashboard (and the
next school's report without a reload), opens one
incident and posts an update with the time of the next one, then reads it in the audit log;
axe-core finds no serious violation on any of these pages."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from playwright.async_api import Page

from broadcast.core.db import SessionFactory
from broadcast.settings import Settings
from broadcast.status.timefmt import PARIS
from tests.console.browser_support import (
    DESKTOP,
    PHONE,
    chromium,
    french_context,
    live_server,
    serious_violations,
    sign_in_page,
)
from tests.console.console_support import give_password, post_form, sign_in
from tests.support import build_world


async def _no_serious_violation(page: Page) -> None:
    assert await serious_violations(page) == [], page.url


async def _fits_the_screen(page: Page) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], (page.url, width)


async def test_a_head_teacher_reports_the_ent_in_one_tap_and_the_officer_opens_one_incident(
    settings: Settings, factory: SessionFactory
) -> None:
    await build_world(factory)
    head = await give_password(factory, "head_x@test.fr")
    head_y = await give_password(factory, "head_y@test.fr")
    officer = await give_password(factory, "officer@test.fr", with_totp=True)
    async with live_server(settings) as base_url, chromium() as browser:
        phone = await (await french_context(browser, PHONE)).new_page()
        await sign_in_page(phone, base_url, head)
        await _no_serious_violation(phone)
        tap = phone.get_by_role("button", name="L'ENT ne fonctionne pas chez nous")
        box = await tap.bounding_box()
        assert box is not None and box["width"] <= PHONE["width"] and box["height"] >= 44
        await tap.click()
        await phone.wait_for_load_state()
        status = await phone.get_by_role("status").inner_text()
        assert status == "Merci : votre signalement (ENT) est transmis à l'académie."
        await _no_serious_violation(phone)
        await _fits_the_screen(phone)

        desk = await (await french_context(browser, DESKTOP)).new_page()
        await sign_in_page(desk, base_url, officer)
        assert await desk.get_by_text("1 établissement signale un problème ENT depuis").count()
        await _no_serious_violation(desk)
        async with httpx.AsyncClient(base_url=base_url) as school_y:  # meanwhile, school Y
            await sign_in(school_y, head_y)
            await post_form(
                school_y, "/console/signalements", {"service": "ent"}, from_page="/console/"
            )
        await desk.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
        await desk.get_by_text("2 établissements signalent un problème ENT depuis").wait_for()
        await desk.get_by_role(
            "button", name="Ouvrir un incident ENT pour ces établissements"
        ).click()
        await desk.wait_for_load_state()
        heading = desk.get_by_role("heading", level=1)
        assert await heading.inner_text() == "ENT : problème signalé par les établissements"
        assert (
            "Signalé par 2 établissements" in await desk.locator("#signalements + p").inner_text()
        )
        await _no_serious_violation(desk)

        later = datetime.now(PARIS) + timedelta(minutes=30)
        await desk.get_by_label("État", exact=True).select_option("identified")
        await desk.get_by_label("Message", exact=True).fill("Un serveur de l'ENT est arrêté.")
        if later.date() == datetime.now(PARIS).date():
            await desk.get_by_label("Prochaine mise à jour à (facultatif)").fill(
                later.strftime("%H:%M")
            )
        await desk.get_by_role("button", name="Publier la mise à jour").click()
        await desk.wait_for_load_state()
        assert await desk.get_by_role("status").inner_text() == "Mise à jour publiée."
        await _no_serious_violation(desk)
        await desk.goto(f"{base_url}/console/incidents")
        await _no_serious_violation(desk)
        await desk.goto(f"{base_url}/console/journal")
        assert await desk.get_by_role(
            "cell", name="Incident ouvert à partir des signalements"
        ).count()
        await _no_serious_violation(desk)

        await phone.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
        await phone.get_by_text("Cause identifiée").wait_for()  # no reload: live.js
        seen = await phone.locator("#mes-signalements-liste").inner_text()
        assert "ENT : problème signalé par les établissements" in seen
        assert "Cause identifiée" in seen and "Un serveur de l'ENT est arrêté." in seen

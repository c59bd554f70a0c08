"""The send's page and approvals in Chromium (issue 11, items 4 and 5): the progress moves on
the page and on the dashboard without a reload while real workers send; an officer's
académie-wide send waits until a second officer, opening the link of his email, approves it;
axe-core finds no serious violation on any of these pages."""

from __future__ import annotations

import asyncio
import re

import pyotp
from playwright.async_api import Page, Response

from broadcast.accounts.models import Role
from broadcast.accounts.service import create_operator
from broadcast.core.db import SessionFactory, transaction
from broadcast.directory.models import Organisation
from broadcast.sandbox.smtp import SmtpSink
from broadcast.settings import Settings
from tests.console.browser_support import (
    DESKTOP,
    chromium,
    french_context,
    live_server,
    serious_violations,
    sign_in_page,
)
from tests.console.console_support import Credentials, give_password
from tests.support import add_contacts, api, build_world, guardians, run_burst_workers
from tests.support import send_broadcast as api_send

LIVE_WAIT_MS = 60_000
"""How long a condition of the page may take to hold (workers and polling), not a measure."""


async def _same_document(page: Page) -> bool:
    """Whether the page is still the document marked by :func:`_mark`: a reload forgets it."""
    return bool(await page.evaluate("() => window.__notReloaded === true"))


async def _mark(page: Page) -> None:
    await page.evaluate("() => { window.__notReloaded = true; }")


async def test_the_progress_moves_without_a_reload_while_workers_send(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 60))
    head = await give_password(factory, "head_x@test.fr")
    async with api(settings) as client:
        draft = await api_send(
            client, world.keys["head_x"], world.school_x, {"organisation_ids": [world.school_x]}
        )
    send_url = f"/console/envois/{draft['id']}"
    async with live_server(settings) as base_url, chromium() as browser:
        context = await french_context(browser, DESKTOP)
        page = await context.new_page()
        await sign_in_page(page, base_url, head)
        dashboard = page
        assert "0 / 0" in await dashboard.locator(".live-progress").inner_text()
        assert await serious_violations(dashboard) == []

        send = await context.new_page()
        await send.goto(base_url + send_url)
        figures = send.locator(".live-progress")
        assert "0 / 0" in await figures.inner_text()
        assert await send.locator("[data-status-for]").inner_text() == "En file d'attente"
        assert await serious_violations(send) == []
        confirm = await context.new_page()
        await confirm.goto(f"{base_url}{send_url}/suspendre")
        assert await confirm.get_by_role("heading", level=1).inner_text() == "Suspendre l'envoi ?"
        assert await serious_violations(confirm) == []
        await confirm.close()

        await _mark(send)
        await _mark(dashboard)
        workers = asyncio.create_task(run_burst_workers(settings))
        await figures.get_by_text("60 / 60 (100 %)").wait_for(timeout=LIVE_WAIT_MS)
        await send.locator('[data-status-for]:has-text("Terminé")').wait_for(timeout=LIVE_WAIT_MS)
        live = send.locator("[data-announce-for]")
        assert await live.get_attribute("aria-live") == "polite"
        assert await live.inner_text() == "Terminé : 60 messages partis sur 60."
        assert await _same_document(send)
        await (
            dashboard.locator(".live-progress")
            .get_by_text("60 / 60")
            .wait_for(timeout=LIVE_WAIT_MS)
        )
        assert await _same_document(dashboard)
        await workers

        await send.get_by_role("link", name="Envoyer la suite").click()
        await send.wait_for_load_state()
        assert (
            "Le problème est résolu" in await send.get_by_label("Message de la suite").input_value()
        )
        assert await serious_violations(send) == []
        await context.close()
    assert len(sink.messages) == 60


async def _second_officer(factory: SessionFactory, academie_id: int) -> Credentials:
    async with transaction(factory) as session:
        academie = await session.get(Organisation, academie_id)
        assert academie is not None
        await create_operator(
            session,
            email="officer2@test.fr",
            display_name="officer2",
            role=Role.academie_officer,
            organisation=academie,
        )
    return await give_password(factory, "officer2@test.fr", with_totp=True)


def _link_in(sink: SmtpSink, to: str) -> str:
    [message] = [m for m in sink.messages if m.to == to]
    text = message.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    found = re.search(r"https://broadcast\.test(/console/approbations/\d+)", text)
    assert found, text
    return found.group(1)


async def _sign_in_from_link(page: Page, base_url: str, path: str, who: Credentials) -> None:
    """The emailed link, then sign-in, then back to the page the link named."""
    await page.goto(base_url + path)
    await page.get_by_label("Adresse électronique").fill(who.email)
    await page.get_by_label("Mot de passe").fill(who.password)
    await page.get_by_role("button", name="Se connecter").click()
    assert who.totp_secret is not None
    await page.get_by_label("Code").fill(pyotp.TOTP(who.totp_secret).now())
    await page.get_by_role("button", name="Valider").click()
    await page.wait_for_load_state()


async def test_an_academie_wide_send_waits_until_a_second_officer_approves_from_his_email(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    for school in (world.school_x, world.school_y, world.school_z):
        await add_contacts(factory, guardians(school, 2, start=10 * school))
    second = await _second_officer(factory, world.academie)
    async with api(settings) as client:
        draft = await api_send(
            client, world.keys["officer"], world.academie, {"organisation_ids": [world.academie]}
        )
        await run_burst_workers(settings)  # the approvers' email, and nothing to families
    assert not [m for m in sink.messages if "familles" in m.to]
    link = _link_in(sink, "officer2@test.fr")
    assert link == f"/console/approbations/{draft['id']}"
    async with live_server(settings) as base_url, chromium() as browser:
        context = await french_context(browser, DESKTOP)
        page = await context.new_page()
        await _sign_in_from_link(page, base_url, link, second)
        assert page.url == base_url + link
        heading = await page.get_by_role("heading", level=1).inner_text()
        assert heading == "Demande d'approbation : ENT indisponible"
        assert "officer demande à envoyer « ENT indisponible » à 6 destinataires" in (
            await page.locator(".lead").inner_text()
        )
        assert await page.get_by_text("L'audience dépasse un établissement").count() == 1
        assert await serious_violations(page) == []

        await page.get_by_role("link", name="Approbations", exact=True).click()
        await page.wait_for_load_state()
        assert await page.get_by_role("link", name="ENT indisponible").count() == 1
        assert await serious_violations(page) == []
        await page.get_by_role("link", name="ENT indisponible").click()
        await page.wait_for_load_state()

        await page.get_by_role("button", name="Approuver et envoyer à 6 destinataires").click()
        await page.wait_for_load_state()
        assert page.url == f"{base_url}/console/envois/{draft['id']}"
        assert "approuvé par officer2" in await page.locator(".people").inner_text()
        await _mark(page)
        await run_burst_workers(settings)
        await (
            page.locator(".live-progress")
            .get_by_text("6 / 6 (100 %)")
            .wait_for(timeout=LIVE_WAIT_MS)
        )
        assert await _same_document(page)
        await context.close()
    families = sorted(m.to for m in sink.messages if "familles" in m.to)
    schools = (world.school_x, world.school_y, world.school_z)
    assert families == sorted(f"parent{10 * s + n}@familles.fr" for s in schools for n in range(2))


async def _set_hidden(page: Page, hidden: bool) -> None:
    """The tab hidden or shown, as the browser tells the page when its user switches tabs."""
    await page.evaluate(
        """(hidden) => {
            Object.defineProperty(document, "hidden", { value: hidden, configurable: true });
            document.dispatchEvent(new Event("visibilitychange"));
        }""",
        hidden,
    )


async def test_the_page_stops_asking_while_its_tab_is_hidden(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    """On the page's own clock, controlled here: a poll each period while shown, none while
    hidden however long, one at once when shown again."""
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 2))
    head = await give_password(factory, "head_x@test.fr")
    async with api(settings) as client:
        draft = await api_send(
            client, world.keys["head_x"], world.school_x, {"organisation_ids": [world.school_x]}
        )
    async with live_server(settings) as base_url, chromium() as browser:
        context = await french_context(browser, DESKTOP)
        page = await context.new_page()
        await sign_in_page(page, base_url, head)
        polls: list[str] = []
        page.on("request", lambda r: polls.append(r.url) if "/progression" in r.url else None)
        await page.clock.install()
        await page.goto(f"{base_url}/console/envois/{draft['id']}")

        def progression(response: Response) -> bool:
            return "/progression" in response.url

        async with page.expect_response(progression):
            await page.clock.run_for(3_000)
        assert len(polls) == 1
        await _set_hidden(page, True)
        await page.clock.run_for(60_000)
        assert len(polls) == 1
        async with page.expect_response(progression):
            await _set_hidden(page, False)
        assert len(polls) == 2
        await context.close()

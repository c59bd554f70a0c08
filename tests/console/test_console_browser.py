"""The console in Chromium: sign-in on a phone, with and without JavaScript, and axe-core on
the pages a person meets first (issue 11, items 1, 10 and 11)."""

from __future__ import annotations

from broadcast.core.db import SessionFactory
from broadcast.settings import Settings
from tests.console.browser_support import (
    PHONE,
    chromium,
    french_context,
    live_server,
    serious_violations,
    sign_in_page,
)
from tests.console.console_support import give_password
from tests.support import build_world


async def test_sign_in_on_a_phone_without_javascript(
    settings: Settings, factory: SessionFactory
) -> None:
    await build_world(factory)
    officer = await give_password(factory, "officer@test.fr", with_totp=True)
    async with live_server(settings) as base_url, chromium() as browser:
        context = await french_context(browser, PHONE, javascript=False)
        page = await context.new_page()
        await sign_in_page(page, base_url, officer)
        assert page.url == f"{base_url}/console/"
        assert await page.get_by_role("heading", level=1).inner_text() == "Tableau de bord"
        await context.close()


async def test_first_pages_have_no_serious_accessibility_violation(
    settings: Settings, factory: SessionFactory
) -> None:
    await build_world(factory)
    head = await give_password(factory, "head_x@test.fr")
    async with live_server(settings) as base_url, chromium() as browser:
        page = await (await french_context(browser, PHONE)).new_page()
        await page.goto(f"{base_url}/console/connexion")
        assert await serious_violations(page) == []
        await page.get_by_role("button", name="Se connecter").click()  # empty: the browser stops it
        await page.get_by_label("Adresse électronique").fill(head.email)
        await page.get_by_label("Mot de passe").fill("pas le bon mot de passe")
        await page.get_by_role("button", name="Se connecter").click()
        await page.wait_for_load_state()
        assert "Adresse ou mot de passe incorrect." in await page.get_by_role("alert").inner_text()
        assert await serious_violations(page) == []
        await sign_in_page(page, base_url, head)
        assert await serious_violations(page) == []
        await page.keyboard.press("Tab")
        skip = page.get_by_role("link", name="Aller au contenu")
        assert await skip.evaluate("element => element === document.activeElement")

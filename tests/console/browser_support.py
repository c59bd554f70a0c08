"""A real browser on the real app: uvicorn serving ``create_app`` on a free loopback port in the
test's own event loop, Debian's Chromium driven by Playwright (its own browser download cannot
work here), and axe-core's verdict on a page. Without Chromium the browser tests are skipped,
saying so in one line."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pyotp
import pytest
import uvicorn
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from admin.app import create_app
from broadcast.sandbox.devservices import free_port
from broadcast.settings import Settings
from tests.console.console_support import Credentials

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 900}
BLOCKING = frozenset({"serious", "critical"})


@asynccontextmanager
async def live_server(settings: Settings) -> AsyncIterator[str]:
    """The app served over HTTP; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the server did not start"
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    if CHROMIUM is None:
        pytest.skip("Chromium absent : tests du navigateur ignorés (apt-get install chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        try:
            yield browser
        finally:
            await browser.close()


async def french_context(
    browser: Browser, viewport: dict[str, int] = PHONE, *, javascript: bool = True
) -> BrowserContext:
    """A browser set to French, as the console's users' are."""
    return await browser.new_context(
        viewport=viewport,  # type: ignore[arg-type]
        locale="fr-FR",
        java_script_enabled=javascript,
    )


async def sign_in_page(page: Page, base_url: str, credentials: Credentials) -> None:
    """Type the address and password as a person does, and the TOTP code when asked."""
    await page.goto(f"{base_url}/console/connexion")
    await page.get_by_label("Adresse électronique").fill(credentials.email)
    await page.get_by_label("Mot de passe").fill(credentials.password)
    await page.get_by_role("button", name="Se connecter").click()
    if credentials.totp_secret:
        await page.get_by_label("Code").fill(pyotp.TOTP(credentials.totp_secret).now())
        await page.get_by_role("button", name="Valider").click()
    await page.wait_for_load_state()


async def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings on the page as it is now."""
    results = await Axe().run(page)
    violations = results.response["violations"]
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in violations
        if v["impact"] in BLOCKING
    ]

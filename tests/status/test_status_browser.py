"""The status page in Chromium (headless, Playwright), served by a real uvicorn server: it
registers its service worker and offers to follow; where the browser cannot reach a push
service (offline here) it says so in French and offers email; the email form works without
JavaScript; and one browser follows several pages, then receives an académie update once."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright

from broadcast.core.db import SessionFactory
from broadcast.sandbox.push import PushSandbox
from broadcast.sandbox.smtp import SmtpSink
from broadcast.settings import Settings
from tests.push_support import browser_subscription, push_rows, running_push, with_push
from tests.status.status_support import post_notice, served
from tests.support import auth, build_world, run_burst_workers, wait_until

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium absent (/usr/bin/chromium)"),
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]
SCHOOL = "0670100V"
OFFLINE = (
    "Votre navigateur n'a pas pu joindre son service de notification (êtes-vous hors ligne ?). "
    "Vous pouvez suivre cette page par e-mail."
)
PUSH_STUB = """
PushManager.prototype.subscribe = function () {
  return Promise.resolve({ toJSON: function () { return %s; } });
};
"""
"""The one browser API replaced: the push service a real Chromium would reach is Google's, out of
reach here; this hands our script the push sandbox's subscription instead."""


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def push() -> AsyncIterator[PushSandbox]:
    async with running_push() as sandbox:
        yield sandbox


async def _open(browser: Browser, url: str, **context: Any) -> Page:
    opened = await browser.new_context(locale="fr-FR", **context)
    page = await opened.new_page()
    await page.goto(url)
    return page


async def _worker_registered(page: Page) -> bool:
    found = await page.evaluate(
        "navigator.serviceWorker.ready.then(r => r.active !== null && r.scope)"
    )
    return str(found).endswith("/status/")


async def test_the_page_registers_its_worker_and_offers_email_when_push_is_out_of_reach(
    settings: Settings, factory: SessionFactory, browser: Browser
) -> None:
    settings = with_push(settings)
    await build_world(factory)
    async with served(settings) as base:
        page = await _open(browser, f"{base}/status/{SCHOOL}/", permissions=["notifications"])
        assert await _worker_registered(page)
        button = page.get_by_role("button", name="Recevoir les notifications")
        await button.click()
        message = page.locator(".push-message")
        await message.filter(has_text="service de notification").wait_for(timeout=20_000)
        text = await message.text_content()
        focused = await page.evaluate("document.activeElement && document.activeElement.id")
        email_button = await page.get_by_role("button", name="Suivre par e-mail").is_visible()
    assert text == OFFLINE
    assert focused == "email" and email_button


async def test_the_email_form_works_without_javascript(
    settings: Settings, factory: SessionFactory, browser: Browser, sink: SmtpSink
) -> None:
    await build_world(factory)
    async with served(settings) as base:
        page = await _open(browser, f"{base}/status/{SCHOOL}/", java_script_enabled=False)
        await page.get_by_label("Votre adresse e-mail").fill("famille@exemple.fr")
        await page.get_by_role("button", name="Suivre par e-mail").click()
        await page.wait_for_load_state()
        heading = await page.locator("h1").text_content()
        await wait_until(lambda: len(sink.messages) == 1, 5)
    assert heading == "Vérifiez votre messagerie"
    assert sink.messages[0].rcpt_tos == ["famille@exemple.fr"]


async def test_one_browser_follows_two_pages_and_gets_an_academie_update_once(
    settings: Settings, factory: SessionFactory, browser: Browser, push: PushSandbox
) -> None:
    settings = with_push(settings)
    world = await build_world(factory)
    subscription = browser_subscription(push)
    context = await browser.new_context(locale="fr-FR", permissions=["notifications"])
    await context.add_init_script(PUSH_STUB % json.dumps(subscription))
    async with served(settings) as base:
        for code in ("STRAS", SCHOOL):
            page = await context.new_page()
            await page.goto(f"{base}/status/{code}/")
            assert await _worker_registered(page)
            await page.get_by_role("button", name="Recevoir les notifications").click()
            await page.locator(".push-message").filter(has_text="Vous recevrez").wait_for()
        _, points, followers = await push_rows(factory)
        async with httpx.AsyncClient(base_url=base) as client:
            officer = auth(world.keys["officer"])
            notice = await post_notice(client, world.keys["officer"], world.academie, "ENT coupé")
            draft = await client.post(
                f"/api/v1/notices/{notice['id']}/notify-followers", headers=officer, json={}
            )
            await client.post(f"/api/v1/broadcasts/{draft.json()['id']}/confirm", headers=officer)
            await client.post(
                f"/api/v1/broadcasts/{draft.json()['id']}/approve",
                headers=auth(world.keys["admin"]),
            )
            await run_burst_workers(settings)
    assert sorted(f.organisation_id for f in followers) == [world.academie, world.school_x]
    assert len({p.address for p in points}) == 1 and len(points) == 2
    [message] = push.messages_for(subscription)
    assert message.data["title"].startswith("ENT coupé")

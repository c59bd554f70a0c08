"""Rédiger in Chromium (issue 11, items 3, 10 and 11): an officer composes, checks and sends
and the sandboxes receive exactly the expected messages; the head teacher's phone flow in at
most five screens; the whole flow with JavaScript off; axe-core on every page of it."""

from __future__ import annotations

from collections import Counter

from playwright.async_api import Page, expect

from broadcast.broadcasts.models import Broadcast, BroadcastStatus
from broadcast.core.db import SessionFactory
from broadcast.sandbox.smtp import SmtpSink
from broadcast.settings import Settings
from tests.console.browser_support import (
    DESKTOP,
    PHONE,
    chromium,
    french_context,
    live_server,
    serious_violations,
    sign_in_page,
)
from tests.console.console_support import give_password
from tests.sms_support import STOP_NUMBER, families, mobile, running_sandbox, with_sms
from tests.support import add_contacts, build_world, guardians, run_burst_workers

SMS_TEXT = (
    "[Collège Org 0670100V] L'ENT de Collège Org 0670100V est indisponible depuis 7 h 45. Les "
    "cours ont lieu normalement. Nous vous informerons de son retour. STOP au " + STOP_NUMBER
)


async def _accessible(page: Page) -> None:
    assert await serious_violations(page) == [], page.url


async def _only_broadcast(factory: SessionFactory) -> Broadcast:
    async with factory() as session:
        found = await session.get(Broadcast, 1)
        assert found is not None
        return found


async def test_officer_composes_checks_and_sends_and_the_sandboxes_receive_it(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, families(world.school_x, 3))
    officer = await give_password(factory, "officer@test.fr", with_totp=True)
    async with running_sandbox() as sandbox:
        sandbox.hold_callbacks = True
        settings = with_sms(settings, sandbox)
        async with live_server(settings) as base_url, chromium() as browser:
            page = await (await french_context(browser, DESKTOP)).new_page()
            await sign_in_page(page, base_url, officer)
            await page.get_by_role("link", name="Rédiger", exact=True).first.click()
            await _accessible(page)
            await page.get_by_role("link", name="ENT indisponible").click()
            await page.get_by_label("Organisation").select_option(label="Org 0670100V")
            await page.get_by_label("Nom de l'établissement").fill("Collège Org 0670100V")
            await page.get_by_label("Depuis quand").fill("7 h 45")
            await _accessible(page)
            await page.get_by_role("button", name="Continuer").click()
            await page.wait_for_url("**/audience")
            count = page.get_by_role("status")
            assert await count.inner_text() == "3 personnes : 3 e-mails, 3 SMS"
            await page.get_by_label("Niveaux", exact=True).fill("5e")
            await page.get_by_label("Niveaux", exact=True).blur()
            await expect(count).to_have_text("0 personnes : 0 e-mails, 0 SMS")
            await page.get_by_label("Niveaux", exact=True).fill("")
            await page.get_by_label("Niveaux", exact=True).blur()
            await expect(count).to_have_text("3 personnes : 3 e-mails, 3 SMS")
            await _accessible(page)
            await page.get_by_role("button", name="Continuer").click()
            await page.wait_for_url("**/canaux")
            await _accessible(page)
            await page.get_by_role("button", name="Vérifier").click()
            await page.wait_for_url("**/verifier")
            await _accessible(page)
            assert SMS_TEXT in await page.locator(".bubble").inner_text()
            send = page.get_by_role("button", name="Envoyer 3 SMS et 3 e-mails")
            await send.click()
            await page.wait_for_url("**/demande")
            await _accessible(page)
            assert await page.get_by_role("heading", level=1).inner_text() == "Envoi lancé"
        await run_burst_workers(settings)
    assert Counter(m.to for m in sink.messages) == Counter(
        {f"parent{n}@familles.fr": 1 for n in range(3)}
    )
    assert {m.subject for m in sink.messages} == {"[Collège Org 0670100V] ENT indisponible"}
    assert Counter(m.to for m in sandbox.messages) == Counter({mobile(n): 1 for n in range(3)})
    assert {m.body for m in sandbox.messages} == {SMS_TEXT}
    assert (await _only_broadcast(factory)).status == BroadcastStatus.completed


async def test_head_teacher_on_his_phone_sends_in_at_most_five_screens(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 2))
    head = await give_password(factory, "head_x@test.fr")
    async with live_server(settings) as base_url, chromium() as browser:
        page = await (await french_context(browser, PHONE)).new_page()
        await sign_in_page(page, base_url, head)
        screens = [page.url]
        page.on("load", lambda loaded: screens.append(loaded.url))
        await _accessible(page)
        await page.get_by_role("link", name="Prévenir les familles").click()
        await page.wait_for_url("**/familles")
        await _accessible(page)
        await page.get_by_role("link", name="ENT indisponible").click()
        await page.wait_for_url("**/modele/ent-indisponible?rapide=1")
        assert await page.get_by_label("Nom de l'établissement").input_value() == "Org 0670100V"
        await page.get_by_label("Depuis quand").fill("ce matin")
        await _accessible(page)
        await page.get_by_role("button", name="Vérifier").click()
        await page.wait_for_url("**/verifier")
        await _accessible(page)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]
        await page.get_by_role("button", name="Envoyer 2 e-mails").click()
        await page.wait_for_url("**/demande")
        await _accessible(page)
    assert len(screens) <= 5, screens
    await run_burst_workers(settings)
    assert sorted(m.to for m in sink.messages) == ["parent0@familles.fr", "parent1@familles.fr"]


async def test_the_other_pages_of_redaction_have_no_serious_accessibility_violation(
    settings: Settings, factory: SessionFactory
) -> None:
    """Axe needs JavaScript: the pages the flows above do not reach, with it on."""
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 2))
    head = await give_password(factory, "head_x@test.fr")
    async with live_server(settings) as base_url, chromium() as browser:
        page = await (await french_context(browser, PHONE)).new_page()
        await sign_in_page(page, base_url, head)
        await page.wait_for_url(f"{base_url}/console/")  # signed in before going elsewhere
        await page.goto(f"{base_url}/console/rediger/texte")
        await page.get_by_label("Titre").fill("Panne")
        await page.get_by_label("Message").fill("Une panne très longue. " * 80)
        await _accessible(page)
        await page.get_by_role("button", name="Continuer").click()
        await page.wait_for_url("**/audience")
        await page.get_by_label("Niveaux", exact=True).fill("septième")
        await page.get_by_role("button", name="Continuer").click()
        assert "niveau inconnu « septième »" in await page.get_by_role("alert").inner_text()
        await _accessible(page)
        await page.get_by_label("Niveaux", exact=True).fill("")
        await page.get_by_role("button", name="Continuer").click()
        await page.get_by_role("button", name="Vérifier").click()
        await page.wait_for_url("**/verifier")
        heading = await page.get_by_role("heading", level=1).inner_text()
        assert heading == "Cet envoi ne peut pas partir"
        await _accessible(page)
        await page.goto(f"{base_url}/console/rediger")
        await _accessible(page)
        await page.get_by_role("link", name="Panne").click()
        await page.wait_for_url("**/incident/*")
        await _accessible(page)


async def test_compose_and_send_with_javascript_off(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 2))
    head = await give_password(factory, "head_x@test.fr")
    async with live_server(settings) as base_url, chromium() as browser:
        context = await french_context(browser, PHONE, javascript=False)
        page = await context.new_page()
        await sign_in_page(page, base_url, head)
        await page.get_by_role("link", name="Rédiger", exact=True).first.click()
        await page.get_by_role("link", name="Écrire un avis sans modèle").click()
        await page.get_by_label("Titre").fill("Cantine fermée")
        await page.get_by_label("Message").fill(
            "La cantine est fermée ce midi : prévoyez un repas."
        )
        await page.get_by_role("button", name="Continuer").click()
        await page.wait_for_url("**/audience")
        assert await page.get_by_role("status").inner_text() == "2 personnes : 2 e-mails, 0 SMS"
        await page.get_by_role("button", name="Continuer").click()
        await page.wait_for_url("**/canaux")
        await page.get_by_label("E-mail").uncheck()
        await page.get_by_label("SMS").uncheck()
        await page.get_by_role("button", name="Vérifier").click()
        assert "Canaux : " in await page.get_by_role("alert").inner_text()
        await page.get_by_label("E-mail").check()
        await page.get_by_label("Exercice").check()
        await page.get_by_role("button", name="Vérifier").click()
        await page.wait_for_url("**/verifier")
        assert "chaque message commence par « EXERCICE »" in await page.inner_text("main")
        await page.get_by_role("button", name="Envoyer 2 e-mails").click()
        await page.wait_for_url("**/demande")
        await context.close()
    await run_burst_workers(settings)
    assert sorted(m.to for m in sink.messages) == ["parent0@familles.fr", "parent1@familles.fr"]
    assert all(m.subject.startswith("EXERCICE") for m in sink.messages)

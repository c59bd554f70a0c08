"""Operators in Chromium, JavaScript off (issue 11, items 1 and 9): an officer invites a
colleague from Administration > Opérateurs; the colleague opens the emailed link on his phone,
chooses a password and lands on his dashboard; then he forgets it and asks for another."""

from __future__ import annotations

import re

from broadcast.core.db import SessionFactory
from broadcast.sandbox.smtp import SmtpSink
from broadcast.settings import Settings
from tests.console.browser_support import (
    DESKTOP,
    PHONE,
    chromium,
    french_context,
    live_server,
    sign_in_page,
)
from tests.console.console_support import give_password
from tests.support import build_world, wait_until

_LINK = re.compile(r"https://broadcast\.test(/console/lien/[\w-]+)")
NEW = "le vent se lève il faut tenter de vivre"


def _last_link(sink: SmtpSink, to: str) -> str:
    body = sink.by_recipient()[to][-1].message.get_content()
    found = _LINK.search(body)
    assert found, body
    return found.group(1)


async def test_an_invitation_then_a_reset_in_the_browser_without_javascript(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    await build_world(factory)
    officer = await give_password(factory, "officer@test.fr", with_totp=True)
    colleague = "collegue@test.fr"
    async with live_server(settings) as base_url, chromium() as browser:
        desk = await (await french_context(browser, DESKTOP, javascript=False)).new_page()
        await sign_in_page(desk, base_url, officer)
        await desk.get_by_role("link", name="Opérateurs").click()
        await desk.get_by_role("link", name="Inviter un opérateur").click()
        await desk.get_by_label("Adresse électronique").fill(colleague)
        await desk.get_by_label("Nom").fill("Camille Collègue")
        await desk.get_by_label("Rôle").select_option("academie_officer")
        await desk.get_by_label("Organisation", exact=True).select_option("67")
        await desk.get_by_role("button", name="Envoyer l'invitation").click()
        assert await desk.get_by_role("status").inner_text() == "Invitation envoyée."
        await wait_until(lambda: colleague in sink.by_recipient(), 10)

        phone = await (await french_context(browser, PHONE, javascript=False)).new_page()
        await phone.goto(base_url + _last_link(sink, colleague))
        heading = await phone.get_by_role("heading", level=1).inner_text()
        assert heading == "Choisir votre mot de passe"
        await phone.get_by_label("Mot de passe", exact=True).fill(NEW)
        await phone.get_by_label("Le même mot de passe, encore une fois").fill(NEW)
        await phone.get_by_role("button", name="Enregistrer et se connecter").click()
        assert phone.url == f"{base_url}/console/connexion/activer"  # an officer needs TOTP

        await phone.context.clear_cookies()
        await phone.goto(f"{base_url}/console/connexion")
        await phone.get_by_role("link", name="Mot de passe oublié ?").click()
        await phone.get_by_label("Adresse électronique").fill(colleague)
        await phone.get_by_role("button", name="Recevoir un lien").click()
        assert "Si un compte correspond" in await phone.get_by_role("status").inner_text()
        await wait_until(lambda: len(sink.by_recipient()[colleague]) == 2, 10)
        link = _last_link(sink, colleague)
        await phone.goto(base_url + link)
        assert await phone.get_by_role("heading", level=1).inner_text() == (
            "Choisir un nouveau mot de passe"
        )
        await phone.goto(base_url + "/console/lien/deja-servi-ou-inconnu")
        assert await phone.get_by_role("heading", level=1).inner_text() == "Lien expiré"

"""``make demo`` (issue 11, item 12): the banner points to the console first and lists the four
demo accounts with their passwords and TOTP secrets; each account signs in with what is
printed, on both databases."""

from __future__ import annotations

import re

from broadcast.core.db import SessionFactory, transaction
from broadcast.sandbox.demo import seed_demo
from broadcast.sandbox.demo_runner import _banner
from broadcast.settings import Settings
from tests.console.console_support import Credentials, sign_in
from tests.support import api

URL = "http://127.0.0.1:8000"
_ACCOUNT = re.compile(
    r"adresse : (\S+)\n\s+mot de passe : (\S+)\n\s+(?:secret TOTP : (\S+)|second facteur : aucun)"
)


async def test_the_banner_points_to_the_console_first_and_every_printed_account_signs_in(
    settings: Settings, factory: SessionFactory
) -> None:
    async with transaction(factory) as session:
        await seed_demo(session, contacts=20)
    async with transaction(factory) as session:  # a second run: the same accounts, new passwords
        credentials = await seed_demo(session, contacts=20)
    banner = _banner(URL, credentials)
    first_url = re.search(r"https?://\S+", banner)
    assert first_url is not None and first_url.group(0) == f"{URL}/console/"
    printed = [
        Credentials(email, password, secret or None)
        for email, password, secret in _ACCOUNT.findall(banner)
    ]
    assert [c.email for c in printed] == [
        "officier@ac-strasbourg.demo",
        "officiere2@ac-strasbourg.demo",
        "principal@college-pasteur.demo",
        "dsi@ac-strasbourg.demo",
    ]
    assert [c.totp_secret is not None for c in printed] == [True, True, False, True]
    for account in printed:
        async with api(settings) as client:
            answer = await sign_in(client, account)
            assert answer.status_code == 303 and answer.headers["location"] == "/console/", (
                account.email,
                answer.text[:300],
            )
            home = await client.get("/console/")
        assert home.status_code == 200 and "Tableau de bord" in home.text

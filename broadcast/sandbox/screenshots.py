"""``make screenshots``: the console's main screens and a status page, at 1280 px and 360 px,
into ``docs/screenshots/``.

It runs the real demo (``broadcast demo`` on a free port, in a directory of its own), reads the
accounts the demo prints, and goes through the service as its users do in Debian's Chromium: the
head teacher warns his families from his phone (dashboard, template, check, the send's page),
then an officer signs in with his second factor and sees the dashboard, the incidents, the
approvals, the contacts and the imports; the platform admin sees the operators, the API keys and
the audit log; last, the académie's public status page.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pyotp
from playwright.async_api import Browser, Page, async_playwright

from broadcast.sandbox.devservices import free_port

OUT = Path("docs/screenshots")
SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 360, "height": 740}}
_ACCOUNT = re.compile(
    r"^  (?P<title>\S.*)\n    adresse : (?P<email>\S+)\n    mot de passe : (?P<password>\S+)\n"
    r"    (?:secret TOTP : (?P<totp>[A-Z2-7]+)|second facteur : .*)$",
    re.MULTILINE,
)


@dataclass(frozen=True)
class Account:
    title: str
    email: str
    password: str
    totp: str | None


def start_demo(directory: Path, port: int) -> tuple[subprocess.Popen[bytes], list[Account]]:
    """The demo in ``directory``, once its banner is printed (into ``demo.log`` there); its
    accounts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BROADCAST_")}
    env.update(BROADCAST_ENV="dev", BROADCAST_VAR_DIR=str(directory / "var"), PYTHONUNBUFFERED="1")
    log = directory / "demo.log"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - this interpreter, our own module
            [sys.executable, "-m", "broadcast.cli", "demo", "--port", str(port)],
            cwd=directory,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 300
    while "Ctrl-C" not in (printed := log.read_text(errors="replace")):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"la démo n'a pas démarré :\n{printed}")
        time.sleep(0.5)
    accounts = [
        Account(m["title"].strip(), m["email"], m["password"], m["totp"])
        for m in _ACCOUNT.finditer(printed)
    ]
    return process, accounts


async def _sign_in(page: Page, base: str, account: Account) -> None:
    await page.goto(f"{base}/console/connexion")
    await page.get_by_label("Adresse électronique").fill(account.email)
    await page.get_by_label("Mot de passe").fill(account.password)
    await page.get_by_role("button", name="Se connecter").click()
    await page.wait_for_load_state()
    if account.totp:
        await page.get_by_label("Code").fill(pyotp.TOTP(account.totp).now())
        await page.get_by_role("button", name="Valider").click()
        await page.wait_for_url(f"{base}/console/")


async def _shot(page: Page, name: str, size: str) -> None:
    await page.screenshot(path=str(OUT / f"{name}-{size}.png"), full_page=size == "desktop")
    print(f"  {OUT / f'{name}-{size}.png'}")


async def head_teacher_warns_families(page: Page, base: str, head: Account, size: str) -> None:
    await _sign_in(page, base, head)
    await _shot(page, "tableau-de-bord-principal", size)
    await page.get_by_role("link", name="Prévenir les familles").click()
    await page.get_by_role("link", name="ENT indisponible").click()
    await page.get_by_label("Depuis quand").fill("ce matin")
    await _shot(page, "rediger", size)
    await page.get_by_role("button", name="Vérifier").click()
    await page.wait_for_url("**/verifier")
    await _shot(page, "verifier", size)
    await page.get_by_role("button", name=re.compile("^Envoyer")).click()
    await page.wait_for_url("**/demande")
    await page.goto(page.url.replace("/rediger/", "/envois/").removesuffix("/demande"))
    # the worker sends and the page's figures follow, then a fresh page shows the ledger too
    for _ in range(240):  # the page's own script; the CSP forbids evaluating ours
        if (await page.inner_text("body")).count("(100 %)") >= 2:
            break
        await asyncio.sleep(0.5)
    await page.reload()
    await _shot(page, "envoi", size)


async def officer_looks_around(page: Page, base: str, officer: Account, size: str) -> None:
    await _sign_in(page, base, officer)
    await _shot(page, "tableau-de-bord-officier", size)
    await page.goto(f"{base}/console/incidents")
    await _shot(page, "incidents", size)
    await page.goto(f"{base}/console/approbations")
    await _shot(page, "approbations", size)
    await page.goto(f"{base}/console/contacts")
    await _shot(page, "contacts", size)
    await page.goto(f"{base}/console/imports")
    await _shot(page, "imports", size)


async def admin_looks_around(page: Page, base: str, admin: Account, size: str) -> None:
    await _sign_in(page, base, admin)
    await page.goto(f"{base}/console/operateurs")
    await _shot(page, "operateurs", size)
    await page.goto(f"{base}/console/integrations/cles")
    await _shot(page, "integrations", size)
    await page.goto(f"{base}/console/journal")
    await _shot(page, "journal", size)


async def capture(browser: Browser, base: str, accounts: list[Account]) -> None:
    head = next(a for a in accounts if a.totp is None)
    admin = next(a for a in accounts if "plateforme" in a.title)
    officers = [a for a in accounts if a.totp is not None and a is not admin]
    for n, (size, viewport) in enumerate(SIZES.items()):
        context = await browser.new_context(viewport=viewport, locale="fr-FR")  # type: ignore[arg-type]
        page = await context.new_page()
        await page.goto(f"{base}/console/connexion")
        await _shot(page, "connexion", size)
        await head_teacher_warns_families(page, base, head, size)
        await context.clear_cookies()
        await officer_looks_around(page, base, officers[n % len(officers)], size)
        await context.clear_cookies()
        await admin_looks_around(page, base, admin, size)
        await page.goto(f"{base}/status/STRASBOURG")
        await _shot(page, "etat-des-services", size)
        await context.close()


async def run(chromium: str, base: str, accounts: list[Account]) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium, headless=True, args=["--no-sandbox"]
        )
        try:
            await capture(browser, base, accounts)
        finally:
            await browser.close()


def main() -> int:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("Chromium absent : installez le paquet chromium pour faire les captures.")
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="broadcast-screenshots-") as tmp:
        demo, accounts = start_demo(Path(tmp), port)
        try:
            asyncio.run(run(chromium, f"http://127.0.0.1:{port}", accounts))
        finally:
            demo.send_signal(signal.SIGINT)  # as Ctrl-C: the demo stops its worker too
            demo.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The acceptance point "an import with bad rows shows the report with row numbers and reasons"
(issue 11), in Chromium: a head teacher goes from the Contacts link to the imports, picks a CSV
with two bad rows and uploads it; the import's page waits, the job runs (real arq workers), and
the page's own script brings the report without a reload by hand: the two rows' numbers and
French reasons, and the download link. axe-core finds no serious violation on the way."""

from __future__ import annotations

from pathlib import Path

from broadcast.core.db import SessionFactory
from broadcast.settings import Settings
from tests.console.browser_support import (
    DESKTOP,
    chromium,
    french_context,
    live_server,
    serious_violations,
    sign_in_page,
)
from tests.console.console_support import give_password
from tests.support import build_world, run_burst_workers

FAMILIES = (
    "identifiant;nom;prénom;rôle;classe;courriel\r\n"
    "1;Roth;Anna;parent;6e A;anna.roth@familles.fr\r\n"
    "2;Weber;Paul;martien;6e A;paul.weber@familles.fr\r\n"
    "3;;Jean;parent;6e B;jean@familles.fr\r\n"
    "4;Klein;Lea;parent;6e B;lea.klein@familles.fr\r\n"
)


async def test_an_uploaded_file_with_bad_rows_shows_their_numbers_and_reasons(
    settings: Settings, factory: SessionFactory, tmp_path: Path
) -> None:
    await build_world(factory)
    head = await give_password(factory, "head_x@test.fr")
    upload = tmp_path / "familles.csv"
    upload.write_text(FAMILIES, encoding="utf-8")
    async with live_server(settings) as base_url, chromium() as browser:
        page = await (await french_context(browser, DESKTOP)).new_page()
        await sign_in_page(page, base_url, head)
        await page.get_by_role("link", name="Contacts", exact=True).click()
        await page.get_by_role("link", name="Imports", exact=True).click()
        assert await serious_violations(page) == [], page.url
        await page.get_by_label("Fichier", exact=True).set_input_files(upload)
        await page.get_by_role("button", name="Importer").click()
        await page.wait_for_load_state()
        assert await page.get_by_role("heading", level=1).inner_text() == "Import familles.csv"
        assert await page.get_by_text("En attente").count() == 1
        await run_burst_workers(settings)
        table = page.locator("#rejets")
        await table.wait_for(timeout=15000)  # the script saw the import finish and reloaded
        rows = [
            [cell.strip() for cell in (await row.inner_text()).split("\t")]
            for row in await table.locator("tbody tr").all()
        ]
        assert [row[1] for row in rows] == ["3", "4"]
        assert "rôle inconnu : martien" in rows[0][2]
        assert "champ obligatoire vide" in rows[1][2]
        counts = await page.locator(".counts").inner_text()
        assert "Créés\n2" in counts and "Rejetés\n2" in counts
        download = page.get_by_role("link", name="Télécharger le rapport des lignes (CSV)")
        assert await download.count() == 1
        assert await serious_violations(page) == [], page.url

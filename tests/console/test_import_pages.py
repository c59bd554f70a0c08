"""Contact imports in the console (issue 11, item 8 and the acceptance point "an import with bad
rows shows the report with row numbers and reasons"): a CSV with two bad rows is uploaded, its
job runs (real arq workers), and its page lists the two rows with their numbers and French
reasons, the CSV download has them, the good rows are in the database; a file no reader reads
is refused at once in French (422) and nothing is kept. Both databases."""

from __future__ import annotations

import csv
import io

from sqlalchemy import func, select
from sqlmodel import col

from broadcast.core.db import SessionFactory
from broadcast.directory.models import Contact
from broadcast.directory.uai import make_uai
from broadcast.imports.models import ImportRun
from broadcast.settings import Settings
from tests.console.console_support import csrf_of, give_password, sign_in
from tests.support import api, build_world, run_burst_workers

X = make_uai("0670100")
FAMILIES = (
    "identifiant;nom;prénom;rôle;classe;niveau;courriel;portable\r\n"
    "1;Roth;Anna;parent;6e A;6e;anna.roth@familles.fr;\r\n"
    "2;Weber;Paul;martien;6e A;6e;paul.weber@familles.fr;\r\n"
    "3;Klein;Lea;parent;6e B;6e;;06 12 34 56 78\r\n"
    "4;;Jean;parent;6e B;6e;jean@familles.fr;\r\n"
    "5;Meyer;Tom;élève;6e B;6e;tom.meyer@familles.fr;\r\n"
).encode()


async def test_an_import_with_bad_rows_shows_their_numbers_and_reasons(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    head = await give_password(factory, "head_x@test.fr")
    async with api(settings) as client:
        await sign_in(client, head)
        form_page = await client.get("/console/imports")
        assert form_page.status_code == 200 and "Importer un fichier" in form_page.text
        answer = await client.post(
            "/console/imports",
            data={"csrf": csrf_of(form_page), "organisation": str(world.school_x)},
            files={"fichier": ("familles.csv", FAMILIES, "text/csv")},
        )
        assert answer.status_code == 303, answer.text
        run_page_url = answer.headers["location"]
        waiting = await client.get(run_page_url)
        assert "Actualiser" in waiting.text and "import.js" in waiting.text
        await run_burst_workers(settings)
        report = await client.get(run_page_url)
        state = await client.get(f"{run_page_url}/etat")
        download = await client.get(f"{run_page_url}/rejets.csv")
        listing = await client.get("/console/imports")
    assert report.status_code == 200
    text = report.text
    assert "Lignes rejetées" in text and "Actualiser" not in text
    assert "<td>3</td><td>rôle inconnu : martien</td>" in text.replace("colonne « rôle » : ", "")
    assert "<td>5</td>" in text and "champ obligatoire vide" in text
    assert state.json()["final"] is True and state.json()["counts"]["created"] == "3"
    assert download.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert [(r["ligne"], r["suite"]) for r in rows] == [("3", "rejetée"), ("5", "rejetée")]
    assert "rôle inconnu : martien" in rows[0]["motif"]
    assert "champ obligatoire vide" in rows[1]["motif"]
    assert "familles.csv" in listing.text and "Terminé" in listing.text
    async with factory() as session:
        names = set(
            (
                await session.execute(
                    select(col(Contact.last_name)).where(
                        col(Contact.organisation_id) == world.school_x
                    )
                )
            ).scalars()
        )
        run = (await session.execute(select(ImportRun))).scalar_one()
    assert names == {"Roth", "Klein", "Meyer"}
    assert (run.created, run.rejected) == (3, 2)


async def test_a_file_of_the_wrong_format_is_refused_in_french_and_nothing_is_kept(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    head = await give_password(factory, "head_x@test.fr")
    async with api(settings) as client:
        await sign_in(client, head)
        form_page = await client.get("/console/imports")
        token = csrf_of(form_page)
        xml = await client.post(
            "/console/imports",
            data={"csrf": token, "organisation": str(world.school_x)},
            files={"fichier": ("notes.xml", b"<?xml version='1.0'?><NOTES/>", "text/xml")},
        )
        no_names = await client.post(
            "/console/imports",
            data={"csrf": token, "organisation": str(world.school_x)},
            files={"fichier": ("liste.csv", b"classe;courriel\r\n6e A;a@b.fr\r\n", "text/csv")},
        )
        nothing = await client.post(
            "/console/imports", data={"csrf": token, "organisation": str(world.school_x)}
        )
        elsewhere = await client.post(
            "/console/imports",
            data={"csrf": token, "organisation": str(world.school_y)},
            files={"fichier": ("familles.csv", FAMILIES, "text/csv")},
        )
    assert xml.status_code == 422
    assert "Fichier refusé : notes.xml : document XML inconnu (NOTES)." in xml.text
    assert no_names.status_code == 422 and "Fichier refusé" in no_names.text
    assert "le nom" in no_names.text
    assert nothing.status_code == 422 and "Choisissez le fichier à importer." in nothing.text
    assert elsewhere.status_code == 404
    async with factory() as session:
        assert await session.scalar(select(func.count()).select_from(ImportRun)) == 0
    assert not (settings.var_dir / "imports").exists() or not any(
        (settings.var_dir / "imports").iterdir()
    )

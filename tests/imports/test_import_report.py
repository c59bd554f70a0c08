"""The report of a run: every bad row with its number and a French reason, the good ones
imported; a malformed file changes nothing."""

from __future__ import annotations

import zipfile
from pathlib import Path

from sqlalchemy import func, select

from broadcast.core.db import SessionFactory, transaction
from broadcast.directory.models import Contact
from broadcast.directory.uai import make_uai
from broadcast.imports.report import format_report
from tests.imports.builders import Pupil, import_file, siecle_pupils_xml, write_csv
from tests.support import build_world

HEADER = ["id", "nom", "prénom", "uai", "classe", "courriel", "portable"]
X, Z = make_uai("0670100"), make_uai("0680300")


def _good(n: int) -> list[str]:
    return [f"C{n}", f"NOM{n}", "Prénom", X, "6e A", f"parent{n}@familles.fr", ""]


BAD = {
    11: (
        ["B11", "NOM", "P", "0670100A", "", "a@familles.fr", ""],
        "colonne « uai » : UAI invalide : 0670100A",
    ),
    22: (
        ["B22", "NOM", "P", Z, "", "b@familles.fr", ""],
        "colonne « uai » : établissement hors de votre périmètre",
    ),
    33: (
        ["B33", "NOM", "P", make_uai("0679999"), "", "c@familles.fr", ""],
        f"colonne « uai » : établissement inconnu : {make_uai('0679999')}",
    ),
    44: (
        ["B44", "NOM", "P", X, "", "", "06 12"],
        "colonne « portable » : numéro de téléphone invalide",
    ),
    55: (
        ["B55", "NOM", "P", X, "", "", "03 88 12 34 56"],
        "colonne « portable » : numéro fixe : il ne peut pas recevoir de SMS",
    ),
    66: (["C1", "NOM", "P", X, "", "d@familles.fr", ""], "doublon : identifiant déjà lu ligne 2"),
    77: (["B77", "", "P", X, "", "e@familles.fr", ""], "colonne « nom » : champ obligatoire vide"),
    88: (
        ["B88", "NOM", "P", X, "", "pas-une-adresse", ""],
        "colonne « courriel » : adresse e-mail invalide : pas-une-adresse",
    ),
    99: (
        ["B99", "NOM", "P", "", "", "f@familles.fr", ""],
        "UAI manquant : indiquez l'établissement",
    ),
    111: (
        ["B111", "NOM", "P", X, "", "", "+33 1 23"],
        "colonne « portable » : numéro de téléphone invalide",
    ),
}


async def test_ten_bad_rows_among_a_thousand(factory: SessionFactory, tmp_path: Path) -> None:
    world = await build_world(factory)
    rows = [_good(n) for n in range(1, 1001)]
    for index, (row, _) in BAD.items():
        rows[index] = row
    rows[500] = [*_good(501)[:6], "03 88 00 00 00"]  # a landline beside an e-mail
    path = write_csv(tmp_path / "contacts.csv", HEADER, rows)

    run = await import_file(factory, world.dep67, path)

    assert (run.status, run.rows_read, run.created, run.rejected) == ("completed", 1000, 990, 10)
    refused = [(r["row"], r["reason"]) for r in run.rejections if not r.get("imported")]
    # the header is line 1: rows[i] is line i + 2
    assert refused == [(index + 2, reason) for index, (_, reason) in BAD.items()]
    assert [(r["row"], r["reason"]) for r in run.rejections if r.get("imported")] == [
        (502, "colonne « portable » : numéro fixe : il ne peut pas recevoir de SMS")
    ]
    async with transaction(factory) as session:
        assert await session.scalar(select(func.count()).select_from(Contact)) == 990
    lines = format_report(run_report(run))
    assert lines[0].startswith("1000 ligne(s) lue(s), 990 contact(s) créé(s)")
    assert (
        "contacts.csv, ligne 24 [B22] : colonne « uai » : établissement hors de votre périmètre"
        in lines
    )


def run_report(run: object) -> object:
    from broadcast.imports.report import ImportReport

    fields = ("rows_read", "created", "updated", "unchanged", "rejected", "left", "rejections")
    return ImportReport(**{name: getattr(run, name) for name in fields})


async def test_malformed_file_after_a_thousand_rows_changes_nothing(
    factory: SessionFactory, tmp_path: Path
) -> None:
    world = await build_world(factory)
    pupils = [Pupil(str(n), f"NOM{n}", "P", "6A") for n in range(1500)]
    data = siecle_pupils_xml(X, pupils)
    cut = data.index(b'<STRUCTURES_ELEVE ELEVE_ID="1300"')
    path = tmp_path / "ElevesSansAdresses.xml"
    path.write_bytes(data[:cut] + b"<STRUCTURES_ELEVE ELEVE_ID=oops>")
    run = await import_file(factory, world.school_x, path)
    assert run.status == "failed"
    assert run.error is not None and "XML mal formé" in run.error
    async with transaction(factory) as session:
        assert await session.scalar(select(func.count()).select_from(Contact)) == 0


async def test_dry_run_reports_and_changes_nothing(factory: SessionFactory, tmp_path: Path) -> None:
    world = await build_world(factory)
    path = write_csv(tmp_path / "c.csv", HEADER, [_good(n) for n in range(30)])
    run = await import_file(factory, world.school_x, path, dry_run=True)
    assert (run.status, run.dry_run, run.created) == ("completed", True, 30)
    async with transaction(factory) as session:
        assert await session.scalar(select(func.count()).select_from(Contact)) == 0


async def test_a_damaged_csv_or_zip_is_refused_whole(
    factory: SessionFactory, tmp_path: Path
) -> None:
    world = await build_world(factory)
    rows = [_good(n) for n in range(1500)]
    rows[1200] = [*_good(1200)[:5], "x" * 200_000, ""]  # beyond the csv module's field limit
    damaged_csv = write_csv(tmp_path / "c.csv", HEADER, rows)
    good_zip = tmp_path / "good.zip"
    with zipfile.ZipFile(good_zip, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("c.csv", damaged_csv.read_bytes()[:50_000])
    data = bytearray(good_zip.read_bytes())
    data[200:260] = bytes(60)  # inside the member's compressed data
    damaged_zip = tmp_path / "damaged.zip"
    damaged_zip.write_bytes(bytes(data))

    refused_csv = await import_file(factory, world.school_x, damaged_csv)
    refused_zip = await import_file(factory, world.school_x, damaged_zip)

    assert (refused_csv.status, refused_csv.error) == (
        "failed",
        "Fichier refusé : CSV mal formé (ligne 1202).",
    )
    assert refused_zip.status == "failed"
    assert refused_zip.error == "Fichier refusé : archive zip illisible (abîmée ou chiffrée)."
    async with transaction(factory) as session:
        assert await session.scalar(select(func.count()).select_from(Contact)) == 0

"""Reference data and schools: the hierarchy shipped with the package, loaded idempotently;
schools from the national directory's CSV, UAI checked (RULES F1), re-import in place; the
`broadcast import` command prints its report in French."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from broadcast.cli import main
from broadcast.core.db import SessionFactory, transaction
from broadcast.directory.models import Organisation
from broadcast.directory.uai import make_uai
from broadcast.reference.service import ensure_reference, import_schools
from broadcast.settings import get_settings
from tests.conftest import TEST_SECRET
from tests.imports.builders import write_csv

ANNUAIRE = [
    "Identifiant_de_l_etablissement",
    "Nom_etablissement",
    "Type_etablissement",
    "Statut_public_prive",
    "Code_postal",
    "Nom_commune",
    "Code_departement",
    "Code_academie",
    "Libelle_academie",
]
AJACCIO, POINTE = make_uai("6200001"), make_uai("9710001")


def _schools(name: str = "Collège Pasteur") -> list[list[str]]:
    strasbourg = ["Public", "67000", "Strasbourg", "067", "15", "Strasbourg"]
    return [
        [make_uai("0670100"), name, "Collège", *strasbourg],
        [AJACCIO, "Lycée Fesch", "Lycée", "Public", "20000", "Ajaccio", "02A", "27", "Corse"],
        [POINTE, "École du Port", "Ecole", "Public", "97110", "Pointe-à-Pitre", "971", "32", "Gpe"],
        ["0670100A", "Faux", "Collège", *strasbourg],
    ]  # fmt: skip


async def _paths(factory: SessionFactory) -> dict[str, tuple[str, str, str | None]]:
    async with transaction(factory) as session:
        rows = (await session.execute(select(Organisation))).scalars().all()
    by_id = {org.id: org for org in rows}
    return {
        org.code: (by_id[org.parent_id].code if org.parent_id else "", org.name, org.school_type)
        for org in rows
    }


async def test_reference_is_loaded_once(factory: SessionFactory) -> None:
    for _ in range(2):
        async with transaction(factory) as session:
            departements = await ensure_reference(session)
    assert len(departements) == 101
    async with transaction(factory) as session:
        count = await session.scalar(select(func.count()).select_from(Organisation))
        strasbourg = await session.scalar(
            select(Organisation).where(col(Organisation.code) == "67")
        )
    assert count == 18 + 30 + 101
    orgs = await _paths(factory)
    assert orgs["67"][:2] == ("STRASBOURG", "Bas-Rhin")
    assert orgs["STRASBOURG"][0] == "GRAND-EST"
    assert (orgs["2A"][0], orgs["2B"][0], orgs["976"][0]) == ("CORSE", "CORSE", "MAYOTTE")
    assert strasbourg is not None and strasbourg.path.count("/") == 4


async def test_schools_from_the_national_directory(factory: SessionFactory, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "fr-en-annuaire-education.csv", ANNUAIRE, _schools(), delimiter=";")
    async with transaction(factory) as session:
        report = await import_schools(session, path)
    assert (report.rows_read, report.created, report.rejected) == (4, 3, 1)
    assert [(r["row"], r["reason"]) for r in report.rejections] == [
        (5, "colonne « Identifiant_de_l_etablissement » : UAI invalide : 0670100A")
    ]
    orgs = await _paths(factory)
    assert orgs[make_uai("0670100")] == ("67", "Collège Pasteur (Strasbourg)", "college")
    assert orgs[AJACCIO] == ("2A", "Lycée Fesch (Ajaccio)", "lycee")
    assert orgs[POINTE] == ("971", "École du Port (Pointe-à-Pitre)", "ecole")

    renamed = write_csv(
        tmp_path / "b.csv", ANNUAIRE, _schools("Collège Louis Pasteur"), delimiter=";"
    )
    async with transaction(factory) as session:
        again = await import_schools(session, renamed)
    assert (again.created, again.updated, again.unchanged) == (0, 1, 2)
    assert (await _paths(factory))[make_uai("0670100")][1] == "Collège Louis Pasteur (Strasbourg)"


def test_import_commands_print_the_report_in_french(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BROADCAST_ENV", "dev")
    monkeypatch.setenv("BROADCAST_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("BROADCAST_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    get_settings.cache_clear()
    try:
        assert main(["migrate"]) == 0
        schools = write_csv(tmp_path / "annuaire.csv", ANNUAIRE, _schools(), delimiter=";")
        assert main(["import-schools", str(schools)]) == 0
        contacts = write_csv(
            tmp_path / "familles.csv",
            ["nom", "prénom", "courriel", "portable"],
            [["Roth", "Anna", "anna@familles.fr", ""], ["Weber", "Paul", "", "01 02 03 04 05"]],
        )
        uai = make_uai("0670100")
        assert main(["import", str(contacts), "--organisation", uai, "--dry-run"]) == 0
        assert main(["import", str(contacts), "--organisation", uai]) == 0
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith("4 ligne(s) lue(s), 3 établissement(s) créé(s)")
    assert out[2] == (
        "annuaire.csv, ligne 5 : colonne « Identifiant_de_l_etablissement » : "
        "UAI invalide : 0670100A"
    )
    report = "2 ligne(s) lue(s), 1 contact(s) créé(s), 0 mis à jour, 0 inchangé(s), 1 rejeté(s)"
    assert out[3].startswith("Simulation (rien n'a été enregistré) : " + report)
    assert out[5].startswith(report)
    assert out[6] == (
        "familles.csv, ligne 3 : colonne « portable » : "
        "numéro fixe : il ne peut pas recevoir de SMS"
    )

"""The import benchmark: N guardians from a plain CSV file or a SIECLE export, into PostgreSQL.

    python -m bench.imports [--rows 100000] [--format csv|siecle] [--json]

A fresh database (as ``bench.fanout`` makes it: on the server named by ``BROADCAST_DATABASE_URL``
or a local one, migrated, dropped at the end) holds one académie and one school. The file is
written in a temporary directory (not measured), one row per guardian with an e-mail address and
a mobile number:

- ``csv``: ``identifiant;nom;prénom;classe;niveau;courriel;portable`` in Latin-1 (the encoding
  is detected by reading the file once more, as for any upload);
- ``siecle``: ``ResponsablesAvecAdresses.xml`` with N/2 PERSONNE and N RESPONSABLE_ELEVE (each
  person the legal guardian of two pupils), after the N/2 pupils' ``ElevesSansAdresses.xml``
  was imported (not measured), so that each guardian takes its pupil's class.

With ``--again`` the file is imported once (not measured), then the same file again: every
contact is looked up and found unchanged (the idempotent re-import of a school's new export).

The clock runs around :func:`broadcast.imports.service.run_import` (one transaction, batches of
1,000, as the worker runs it). Peak RSS is the process's, sampled every 0.1 s during the import.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.fanout import RssSampler, fresh_database, server_url
from broadcast.core.db import SessionFactory, create_engine, session_factory, transaction
from broadcast.directory.models import Organisation, OrganisationKind
from broadcast.directory.service import create_organisation
from broadcast.directory.uai import make_uai
from broadcast.imports.service import create_run, run_import
from broadcast.settings import Settings

UAI = make_uai("0670100")


@dataclass
class Result:
    format: str
    rows: int
    file_mb: float
    seconds: float
    rows_per_s: float
    peak_rss_mb: float
    created: int
    rejected: int


def _guardian(n: int) -> tuple[str, str, str, str]:
    return f"NOM{n}", f"Prénom{n}", f"parent{n}@familles.fr", f"06{n:08d}"


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="latin-1", newline="") as out:
        out.write("identifiant;nom;prénom;classe;niveau;courriel;portable\r\n")
        for n in range(rows):
            last, first, email, mobile = _guardian(n)
            out.write(f"G{n};{last};{first};6e {n % 8};6e;{email};{mobile}\r\n")


def write_siecle(directory: Path, rows: int) -> tuple[Path, Path]:
    pupils, guardians = (
        directory / "ElevesSansAdresses.xml",
        directory / "ResponsablesAvecAdresses.xml",
    )
    count = rows // 2
    with pupils.open("w", encoding="iso-8859-15") as out:
        out.write('<?xml version="1.0" encoding="ISO-8859-15"?>\n<BEE_ELEVES VERSION="3.1">')
        out.write(f"<PARAMETRES><UAJ>{UAI}</UAJ></PARAMETRES><DONNEES><ELEVES>")
        for n in range(count):
            out.write(
                f'<ELEVE ELEVE_ID="{n}"><NOM_DE_FAMILLE>NOM{n}</NOM_DE_FAMILLE>'
                f"<PRENOM>Élève{n}</PRENOM><CODE_MEF>10010012110</CODE_MEF></ELEVE>\n"
            )
        out.write("</ELEVES><STRUCTURES>")
        for n in range(count):
            out.write(
                f'<STRUCTURES_ELEVE ELEVE_ID="{n}"><STRUCTURE><CODE_STRUCTURE>6{n % 8}'
                "</CODE_STRUCTURE><TYPE_STRUCTURE>D</TYPE_STRUCTURE></STRUCTURE></STRUCTURES_ELEVE>\n"
            )
        out.write("</STRUCTURES></DONNEES></BEE_ELEVES>\n")
    with guardians.open("w", encoding="iso-8859-15") as out:
        out.write('<?xml version="1.0" encoding="ISO-8859-15"?>\n<BEE_RESPONSABLES VERSION="3.1">')
        out.write(f"<PARAMETRES><UAJ>{UAI}</UAJ></PARAMETRES><DONNEES><PERSONNES>")
        for n in range(count):
            last, first, email, mobile = _guardian(n)
            out.write(
                f'<PERSONNE PERSONNE_ID="{n}"><NOM_DE_FAMILLE>{last}</NOM_DE_FAMILLE>'
                f"<PRENOM>{first}</PRENOM><TEL_PORTABLE>{mobile}</TEL_PORTABLE>"
                f"<MEL>{email}</MEL></PERSONNE>\n"
            )
        out.write("</PERSONNES><RESPONSABLES>")
        for n in range(rows):
            person, pupil = n % count, (n + n // count) % count
            out.write(
                f"<RESPONSABLE_ELEVE><ELEVE_ID>{pupil}</ELEVE_ID><PERSONNE_ID>{person}"
                "</PERSONNE_ID><RESP_LEGAL>1</RESP_LEGAL></RESPONSABLE_ELEVE>\n"
            )
        out.write("</RESPONSABLES><ADRESSES/></DONNEES></BEE_RESPONSABLES>\n")
    return pupils, guardians


async def _school(factory: SessionFactory) -> int:
    async with transaction(factory) as session:
        parent = None
        for kind, code in (
            (OrganisationKind.region_academique, "GRAND-EST"),
            (OrganisationKind.academie, "STRASBOURG"),
            (OrganisationKind.departement, "67"),
        ):
            parent = await create_organisation(
                session, kind=kind, code=code, name=code, parent=parent
            )
        school = await create_organisation(
            session, kind=OrganisationKind.etablissement, code=UAI, name="Collège", parent=parent
        )
    return school.id or 0


async def _import(factory: SessionFactory, school_id: int, path: Path) -> tuple[int, int]:
    async with transaction(factory) as session:
        school = await session.get(Organisation, school_id)
        assert school is not None
        run = await create_run(session, None, school, filename=path.name)
    finished = await run_import(factory, run.id or 0, path)
    assert finished is not None and finished.status == "completed", finished
    return finished.created, finished.rejected


async def _measure(
    database_url: str, fmt: str, rows: int, directory: Path, again: bool = False
) -> Result:
    engine = create_engine(Settings(env="dev", database_url=database_url))
    factory = session_factory(engine)
    try:
        school_id = await _school(factory)
        if fmt == "csv":
            path = directory / "contacts.csv"
            write_csv(path, rows)
        else:
            pupils, path = write_siecle(directory, rows)
            await _import(factory, school_id, pupils)
        if again:
            await _import(factory, school_id, path)
        sampler = RssSampler([os.getpid()])
        sampler.start()
        started = time.perf_counter()
        created, rejected = await _import(factory, school_id, path)
        seconds = time.perf_counter() - started
        sampler.stop()
    finally:
        await engine.dispose()
    return Result(
        format=fmt + (" again" if again else ""),
        rows=rows,
        file_mb=round(path.stat().st_size / 1e6, 1),
        seconds=round(seconds, 2),
        rows_per_s=round(rows / seconds),
        peak_rss_mb=round(sampler.peaks[os.getpid()] / 1e6, 1),
        created=created,
        rejected=rejected,
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.imports", description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--format", choices=["csv", "siecle"], default="csv")
    parser.add_argument(
        "--again", action="store_true", help="measure a second import of the same file"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with fresh_database(server_url()) as url, tempfile.TemporaryDirectory() as directory:
        result = asyncio.run(
            _measure(url, args.format, args.rows, Path(directory), again=args.again)
        )
    if args.json:
        print(json.dumps(asdict(result)))
    else:
        print(
            f"{result.rows} guardians from {result.format} ({result.file_mb} MB): "
            f"{result.seconds} s, {result.rows_per_s} rows/s, peak RSS {result.peak_rss_mb} MB, "
            f"{result.created} created, {result.rejected} rejected"
        )


if __name__ == "__main__":
    main()

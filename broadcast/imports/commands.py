"""The import commands of ``broadcast``: ``import-schools FILE`` and ``import FILE``.

The command line is the platform operator's; ``--organisation`` (a code: UAI for a school)
is the scope of the import: rows naming a school outside it are refused. Each run is audited.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from broadcast.accounts.service import audit
from broadcast.core.db import create_engine, session_factory, transaction
from broadcast.core.errors import DomainError
from broadcast.directory.models import Organisation
from broadcast.imports.models import ImportStatus
from broadcast.imports.records import ImportKind
from broadcast.imports.report import format_report
from broadcast.imports.service import create_run, report_of, run_import
from broadcast.reference.service import import_schools
from broadcast.settings import Settings


def add_parsers(sub: Any) -> None:
    schools = sub.add_parser(
        "import-schools", help="create or update the schools of a national directory CSV"
    )
    schools.add_argument("file", type=Path)
    contacts = sub.add_parser(
        "import", help="import contacts: CSV, SIECLE XML, ONDE CSV, STS-Web XML, or a zip"
    )
    contacts.add_argument("file", type=Path)
    contacts.add_argument(
        "--organisation", required=True, help="scope of the import: a code (UAI for a school)"
    )
    contacts.add_argument("--kind", choices=[k.value for k in ImportKind])
    contacts.add_argument("--dry-run", action="store_true", help="report only, change nothing")
    contacts.add_argument(
        "--full", action="store_true", help="contacts of the schools read missing from it left"
    )


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise DomainError(f"Fichier introuvable : {path}.", f"No such file: {path}.")
    return path


async def cmd_import_schools(args: argparse.Namespace, settings: Settings) -> int:
    path = _existing(args.file)
    engine = create_engine(settings)
    try:
        async with transaction(session_factory(engine)) as session:
            report = await import_schools(session, path)
            audit(session, None, "schools.import", details=report.counts())
    finally:
        await engine.dispose()
    for line in format_report(report):
        print(line.replace("contact(s)", "établissement(s)"))
    return 0


async def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    path = _existing(args.file)
    engine = create_engine(settings)
    factory = session_factory(engine)
    try:
        async with transaction(factory) as session:
            scope = await session.scalar(
                select(Organisation).where(col(Organisation.code) == args.organisation)
            )
            if scope is None:
                raise DomainError(f"Organisation inconnue : {args.organisation}.")
            run = await create_run(
                session,
                None,
                scope,
                filename=path.name,
                kind=ImportKind(args.kind) if args.kind else None,
                dry_run=args.dry_run,
                full=args.full,
            )
        finished = await run_import(factory, run.id or 0, path)
    finally:
        await engine.dispose()
    assert finished is not None
    if finished.status == ImportStatus.failed:
        print(f"Erreur : {finished.error}", file=sys.stderr)
        return 2
    for line in format_report(report_of(finished), dry_run=finished.dry_run):
        print(line)
    return 0


COMMANDS = {"import-schools": cmd_import_schools, "import": cmd_import}

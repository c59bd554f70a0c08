"""The personal-data commands of ``broadcast`` (RULES R2, R3): purge, export-person, erase-person.

The command line is the platform operator's: it sees every organisation. Each run is audited.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from broadcast.core.db import create_engine, session_factory, transaction
from broadcast.core.errors import InvalidInput
from broadcast.core.validation import describe_errors
from broadcast.directory import privacy
from broadcast.directory.schemas import PersonQuery
from broadcast.settings import Settings


async def _in_transaction(
    settings: Settings, work: Callable[[Any], Coroutine[Any, Any, Any]]
) -> Any:
    engine = create_engine(settings)
    try:
        async with transaction(session_factory(engine)) as session:
            return await work(session)
    finally:
        await engine.dispose()


def _query(args: argparse.Namespace) -> PersonQuery:
    try:
        return PersonQuery(contact_id=args.contact, email=args.email, phone=args.phone)
    except ValidationError as exc:
        problems = "; ".join(e["message"] for e in describe_errors(exc.errors()))
        raise InvalidInput(f"Personne mal désignée : {problems}.") from exc


async def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    async def work(session: Any) -> privacy.PurgeReport:
        return await privacy.purge_due(session, settings, trigger="cli", dry_run=args.dry_run)

    report = await _in_transaction(settings, work)
    verb = "seraient" if report.dry_run else "ont été"
    print(
        f"{report.contacts} contact(s) partis avant le {report.contacts_left_before:%d/%m/%Y} "
        f"et leurs {report.contact_points} adresse(s) {verb} supprimés ; "
        f"{report.deliveries_masked} envoi(s) antérieurs au "
        f"{report.deliveries_before:%d/%m/%Y} {verb} masqués."
    )
    return 0


async def cmd_export_person(args: argparse.Namespace, settings: Settings) -> int:
    async def work(session: Any) -> privacy.PersonExport:
        return await privacy.access_export(session, None, _query(args))

    export = await _in_transaction(settings, work)
    text = export.model_dump_json(indent=2)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")  # noqa: ASYNC240  (one small file)
        print(f"Export écrit dans {args.output} ({export.rows} ligne(s)).")
    else:
        print(text)
    return 0


async def cmd_erase_person(args: argparse.Namespace, settings: Settings) -> int:
    async def work(session: Any) -> privacy.ErasureReport:
        return await privacy.erasure(session, None, _query(args))

    report = await _in_transaction(settings, work)
    print(
        f"{report.contacts} contact(s) et {report.contact_points} adresse(s) supprimés, "
        f"{report.deliveries_masked} envoi(s) masqués ; {report.suppressions_kept} "
        "désinscription(s) conservée(s) pour que l'opposition reste respectée."
    )
    return 0


def _person_arguments(parser: argparse.ArgumentParser) -> None:
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--contact", type=int, help="contact id")
    who.add_argument("--email")
    who.add_argument("--phone", help="mobile number, any French or E.164 form")


def add_parsers(sub: Any) -> None:
    purge = sub.add_parser(
        "purge", help="delete contacts who left long enough ago, mask old delivery addresses"
    )
    purge.add_argument("--dry-run", action="store_true", help="count, change nothing")
    export = sub.add_parser("export-person", help="everything held on one person, as JSON")
    _person_arguments(export)
    export.add_argument("--output", help="write the JSON to this file instead of stdout")
    erase = sub.add_parser("erase-person", help="erase one person (suppressions are kept)")
    _person_arguments(erase)


COMMANDS: dict[str, Callable[[argparse.Namespace, Any], Any]] = {
    "purge": cmd_purge,
    "export-person": cmd_export_person,
    "erase-person": cmd_erase_person,
}

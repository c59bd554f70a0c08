"""The ``broadcast`` command: demo, serve, worker, migrate, create-operator, create-api-key,
vapid-keys, export-status.

The one composition root: the only module of broadcast/ that imports admin/ and workers/, by
plain imports inside the commands that need them (a command line that migrates or creates an
operator loads neither the web app nor the workers)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlmodel import col

from broadcast import cli_privacy
from broadcast.accounts.models import Operator, Role
from broadcast.accounts.service import audit, create_api_key, create_operator, revoke_api_key
from broadcast.channels.push.vapid import generate_vapid_keys
from broadcast.core.db import create_engine, session_factory, transaction
from broadcast.core.embedded_redis import redis_url_or_embedded
from broadcast.core.errors import DomainError
from broadcast.core.logsetup import configure_logging_from_env
from broadcast.core.migrations import upgrade
from broadcast.directory.models import Organisation
from broadcast.imports import commands as import_commands
from broadcast.jobs import QUEUE_NAMES, queues_named
from broadcast.settings import Settings, get_settings
from broadcast.status import export as status_export

if TYPE_CHECKING:
    from fastapi import FastAPI

    from broadcast.sandbox.push import PushSandbox
    from broadcast.sandbox.smtp import SmtpSink
    from broadcast.sandbox.twilio import TwilioSandbox

log = logging.getLogger("broadcast")


async def _in_transaction(
    settings: Settings, work: Callable[[Any], Coroutine[Any, Any, Any]]
) -> Any:
    engine = create_engine(settings)
    try:
        async with transaction(session_factory(engine)) as session:
            return await work(session)
    finally:
        await engine.dispose()


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    upgrade(settings.database_url)
    print("Base de données à jour.")
    return 0


async def cmd_create_operator(args: argparse.Namespace, settings: Settings) -> int:
    async def work(session: Any) -> Operator:
        organisation = await session.scalar(
            select(Organisation).where(col(Organisation.code) == args.organisation)
        )
        if organisation is None:
            raise DomainError(f"Organisation inconnue : {args.organisation}.")
        operator = await create_operator(
            session,
            email=args.email,
            display_name=args.name,
            role=Role(args.role),
            organisation=organisation,
            password=args.password,
        )
        audit(
            session,
            None,
            "operator.create",
            organisation_id=organisation.id,
            object_type="operator",
            object_id=operator.id,
            details={"role": args.role},
        )
        return operator

    operator = await _in_transaction(settings, work)
    print(f"Opérateur {operator.id} créé ({operator.role}).")
    return 0


async def cmd_create_api_key(args: argparse.Namespace, settings: Settings) -> int:
    async def work(session: Any) -> str:
        operator = await session.scalar(
            select(Operator).where(col(Operator.email) == args.email.lower())
        )
        if operator is None:
            raise DomainError(f"Opérateur inconnu : {args.email}.")
        key, plaintext = await create_api_key(session, operator, args.name)
        audit(
            session,
            None,
            "api_key.create",
            organisation_id=operator.organisation_id,
            object_type="api_key",
            object_id=key.id,
            details={"prefix": key.prefix},
        )
        return plaintext

    plaintext = await _in_transaction(settings, work)
    print("Clé d'API (affichée une seule fois, conservez-la) :")
    print(plaintext)
    return 0


async def cmd_revoke_api_key(args: argparse.Namespace, settings: Settings) -> int:
    async def work(session: Any) -> None:
        key = await revoke_api_key(session, args.prefix)
        operator = await session.get(Operator, key.operator_id)
        audit(
            session,
            None,
            "api_key.revoke",
            organisation_id=operator.organisation_id,
            object_type="api_key",
            object_id=key.id,
            details={"prefix": key.prefix},
        )

    await _in_transaction(settings, work)
    print(f"Clé {args.prefix} révoquée.")
    return 0


def cmd_vapid_keys(args: argparse.Namespace, settings: Settings | None) -> int:
    """Print a new VAPID key pair (RFC 8292) for web push; nothing is stored."""
    private_key, public_key = generate_vapid_keys()
    print(f"Clé privée VAPID : {private_key}")
    print(f"Clé publique VAPID : {public_key}")
    print(
        "La clé privée reste secrète dans la configuration du serveur ; la clé publique est "
        "l'applicationServerKey que le navigateur passe à PushManager.subscribe()."
    )
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    uvicorn.run(
        "admin.app:create_served_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=False,  # the app believes only BROADCAST_TRUSTED_PROXIES
        log_config=None,  # uvicorn's lines go through our handler: masked, JSON on demand
    )
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from workers.main import run_workers

    queues = queues_named(args.queues)
    redis_url, embedded = redis_url_or_embedded(settings.redis_url, settings.var_dir)
    try:
        asyncio.run(run_workers(settings, redis_url, queues, burst=args.burst))
    finally:
        if embedded is not None:
            embedded.stop()
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from admin.app import create_app
    from admin.public import DemoOutbox
    from broadcast.sandbox.demo_runner import run_demo

    def demo_app(
        app_settings: Settings, sink: SmtpSink, sandbox: TwilioSandbox, push: PushSandbox
    ) -> FastAPI:
        return create_app(app_settings, outbox=DemoOutbox(sink, sandbox, push))

    upgrade(settings.database_url)
    return int(asyncio.run(run_demo(settings, demo_app, host=args.host, port=args.port)))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="broadcast", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply the database migrations")
    demo = sub.add_parser("demo", help="run everything on embedded defaults with a demo académie")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    serve = sub.add_parser("serve", help="run the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    worker = sub.add_parser("worker", help="run a worker (every queue unless --queues)")
    worker.add_argument("--queues", default=",".join(QUEUE_NAMES), help=", ".join(QUEUE_NAMES))
    worker.add_argument("--burst", action="store_true", help="stop once the queues are empty")
    op = sub.add_parser("create-operator", help="create an operator")
    op.add_argument("--email", required=True)
    op.add_argument("--name", required=True)
    op.add_argument("--role", required=True, choices=[r.value for r in Role])
    op.add_argument("--organisation", required=True, help="organisation code (UAI for a school)")
    op.add_argument("--password")
    key = sub.add_parser("create-api-key", help="create an API key for an operator (shown once)")
    key.add_argument("--email", required=True)
    key.add_argument("--name", default="api")
    revoke = sub.add_parser("revoke-api-key", help="revoke an API key by its visible prefix")
    revoke.add_argument("prefix")
    sub.add_parser("vapid-keys", help="print a new VAPID key pair for web push (not stored)")
    import_commands.add_parsers(sub)
    cli_privacy.add_parsers(sub)
    status_export.add_parser(sub)
    return parser


COMMANDS: dict[str, Callable[[argparse.Namespace, Any], Any]] = {
    "migrate": cmd_migrate,
    "serve": cmd_serve,
    "worker": cmd_worker,
    "demo": cmd_demo,
    "create-operator": cmd_create_operator,
    "create-api-key": cmd_create_api_key,
    "revoke-api-key": cmd_revoke_api_key,
    "vapid-keys": cmd_vapid_keys,
    **import_commands.COMMANDS,
    **cli_privacy.COMMANDS,
    **status_export.COMMANDS,
}


WITHOUT_SETTINGS = frozenset({"vapid-keys"})  # usable before the service is configured


def main(argv: Sequence[str] | None = None) -> int:
    configure_logging_from_env()
    args = _parser().parse_args(argv)
    try:
        command = COMMANDS[args.command]
        settings = None if args.command in WITHOUT_SETTINGS else get_settings()
        result = command(args, settings)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
        return int(result)
    except DomainError as exc:
        print(f"Erreur : {exc.message_fr}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"Erreur de configuration : {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

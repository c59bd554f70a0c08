"""``broadcast export-status DIR``: the whole public status site as static files (HTML, JSON,
Atom, banner pages, service worker, manifests) for object storage or a CDN, so that the pages
stay up even when the service is down. Served by any static file server, the copy answers
the same paths as the live site (``/status/STRAS/`` is ``status/STRAS/index.html``); English
pages are under ``…/en/``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from broadcast.core.db import create_engine, session_factory
from broadcast.core.embedded_redis import redis_url_or_embedded
from broadcast.core.redis_url import connect as connect_redis
from broadcast.settings import Settings
from broadcast.status.site import StatusSite


async def export_status(settings: Settings, directory: Path) -> int:
    """Write the site under ``directory``, from the cached bytes where they are; the count."""
    redis_url, embedded = redis_url_or_embedded(settings.redis_url, settings.var_dir)
    engine = create_engine(settings)
    redis = await connect_redis(redis_url)
    try:
        site = StatusSite(session_factory(engine), redis, settings)
        return await site.export(directory)
    finally:
        await redis.aclose()
        await engine.dispose()
        if embedded is not None:
            embedded.stop()


async def cmd_export_status(args: argparse.Namespace, settings: Settings) -> int:
    written = await export_status(settings, Path(args.directory))
    print(f"Site d'état des services écrit dans {args.directory} ({written} fichiers).")
    return 0


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "export-status", help="write the public status site as static files into DIR"
    )
    parser.add_argument("directory", metavar="DIR")


COMMANDS = {"export-status": cmd_export_status}

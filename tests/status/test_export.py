"""``broadcast export-status DIR`` writes the whole site; a plain static file server serving it
answers like the live pages; ``BROADCAST_STATUS_EXPORT_DIR`` keeps such a copy up to date."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from broadcast.cli import main
from broadcast.core.db import SessionFactory, transaction
from broadcast.directory.models import Organisation
from broadcast.settings import Settings, get_settings
from tests.conftest import TEST_SECRET
from tests.status.status_support import post_notice, post_update
from tests.support import api, build_world


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return


@contextmanager
def static_server(directory: Path) -> Iterator[str]:
    """``python -m http.server`` in a thread: nothing of ours, only the files."""
    handler = functools.partial(_Quiet, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def _uai(factory: SessionFactory, organisation_id: int) -> str:
    async with transaction(factory) as session:
        organisation = await session.get(Organisation, organisation_id)
        assert organisation is not None
        return organisation.code


def _use_settings(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    for name, value in {
        "ENV": "dev",
        "SECRET_KEY": TEST_SECRET,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url or "",
        "PUBLIC_BASE_URL": settings.public_base_url,
        "VAR_DIR": str(settings.var_dir),
    }.items():
        monkeypatch.setenv(f"BROADCAST_{name}", value)
    get_settings.cache_clear()


async def test_exported_site_served_statically_answers_like_the_live_pages(
    settings: Settings, factory: SessionFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await build_world(factory)
    x = await _uai(factory, world.school_x)
    paths = [
        "/status/",
        "/status/en/",
        f"/status/{x}/",
        f"/status/{x}/en/",
        f"/status/{x}/status.json",
        f"/status/{x}/feed.atom",
        f"/status/{x}/banner/",
        "/status/STRAS/",
        "/status/67/",
        "/status/sw.js",
        "/status/static/status.css",
    ]
    _use_settings(monkeypatch, settings)
    target = tmp_path / "site"
    async with api(settings) as live:
        await post_notice(live, world.keys["officer"], world.academie, "ENT indisponible")
        await post_notice(live, world.keys["head_x"], world.school_x, "Cantine fermée")
        assert await asyncio.to_thread(main, ["export-status", str(target)]) == 0
        expected = {path: (await live.get(path)).content for path in paths}
    get_settings.cache_clear()
    with static_server(target) as origin:
        async with httpx.AsyncClient(base_url=origin) as static:
            served = {path: await static.get(path) for path in paths}
            redirect = await static.get(f"/status/{x}")
    for path in paths:
        assert served[path].status_code == 200, path
        assert served[path].content == expected[path], path
    assert b"Cantine ferm" in served["/status/STRAS/"].content
    assert redirect.status_code == 301  # a directory: the static server adds the slash


async def test_export_dir_setting_keeps_the_copy_up_to_date(
    settings: Settings, factory: SessionFactory, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"status_export_dir": tmp_path / "copy"})
    world = await build_world(factory)
    x = await _uai(factory, world.school_x)
    async with api(settings) as client:
        notice = await post_notice(client, world.keys["officer"], world.academie, "ENT en panne")
        school_page = (tmp_path / "copy" / "status" / x / "index.html").read_text()
        await post_update(client, world.keys["officer"], notice["id"], "resolved", "ENT rétabli.")
        after = (tmp_path / "copy" / "status" / x / "index.html").read_text()
        json_after = (tmp_path / "copy" / "status" / "STRAS" / "status.json").read_text()
    assert "ENT en panne" in school_page and "Recherche en cours" in school_page
    assert "ENT rétabli." in after and "Aucun incident en cours." in after
    assert '"open_incidents":[]' in json_after

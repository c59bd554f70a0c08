"""The surge path: cached bytes with a strong ETag, 304, gzip and brotli, the cache headers,
never a cookie, no database query on a hit, and a publication seen by every process once its
check interval has passed."""

from __future__ import annotations

import asyncio
import gzip
from typing import Any

import brotli
from sqlalchemy import event

from broadcast.core.db import SessionFactory
from broadcast.settings import Settings
from broadcast.status.entry import CACHE_CONTROL
from tests.status.status_support import post_notice, post_update
from tests.support import api, build_world

PATHS = (
    "/status",
    "/status/STRAS",
    "/status/STRAS/en/",
    "/status/STRAS/status.json",
    "/status/STRAS/feed.atom",
    "/status/STRAS/banner/",
    "/status/STRAS/manifest.webmanifest",
    "/status/sw.js",
    "/status/static/status.js",
)


async def test_public_answers_carry_cache_headers_and_no_cookie(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    async with api(settings) as client:
        await post_notice(client, world.keys["officer"], world.academie, "ENT indisponible")
        answers = [await client.get(path) for path in PATHS]
        manifest = await client.get("/status/STRAS/manifest.webmanifest")
    for path, response in zip(PATHS, answers, strict=True):
        assert response.status_code == 200, path
        assert "set-cookie" not in response.headers, path
        assert response.headers["cache-control"] == CACHE_CONTROL, path
        assert response.headers["etag"].startswith('"'), path  # strong
    assert manifest.json()["display"] == "standalone"
    assert manifest.json()["start_url"] == "/status/STRAS/"


async def test_etag_then_304_and_precompressed_bodies(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    async with api(settings) as client:
        await post_notice(client, world.keys["officer"], world.academie, "ENT indisponible")
        plain = await client.get("/status/STRAS", headers={"Accept-Encoding": "identity"})
        again = await client.get(
            "/status/STRAS",
            headers={"Accept-Encoding": "identity", "If-None-Match": plain.headers["etag"]},
        )
        raw_gzip = await _raw(client, "/status/STRAS", "gzip")
        raw_br = await _raw(client, "/status/STRAS", "br, gzip")
    assert plain.status_code == 200 and again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == plain.headers["etag"]
    assert raw_gzip["encoding"] == "gzip" and gzip.decompress(raw_gzip["body"]) == plain.content
    assert raw_br["encoding"] == "br" and brotli.decompress(raw_br["body"]) == plain.content
    assert raw_br["etag"] != plain.headers["etag"]  # another representation, another tag


async def _raw(client: Any, path: str, accept_encoding: str) -> dict[str, Any]:
    """The bytes as sent, without httpx decoding them."""
    async with client.stream("GET", path, headers={"Accept-Encoding": accept_encoding}) as r:
        body = b"".join([chunk async for chunk in r.aiter_raw()])
        return {
            "encoding": r.headers.get("content-encoding"),
            "body": body,
            "etag": r.headers["etag"],
        }


async def test_a_hit_reads_no_database(settings: Settings, factory: SessionFactory) -> None:
    world = await build_world(factory)
    async with api(settings) as client:
        await post_notice(client, world.keys["officer"], world.academie, "ENT indisponible")
        await client.get("/status/STRAS")
        engine = client._transport.app.state.session_factory.kw["bind"]  # type: ignore[attr-defined]
        statements: list[str] = []
        event.listen(engine.sync_engine, "before_cursor_execute", _recorder(statements))
        for _ in range(20):
            assert (await client.get("/status/STRAS")).status_code == 200
        assert (await client.get("/status/STRAS/status.json")).status_code == 200
        hits = list(statements)
        await client.get("/status/67")  # beneath the change: purged, rendered on this miss
    assert hits == []
    assert statements, "the miss reads the database (the listener works)"


def _recorder(statements: list[str]) -> Any:
    def record(*args: Any) -> None:
        statements.append(str(args[2]))

    return record


async def test_a_publication_reaches_another_process_within_its_check_interval(
    settings: Settings, factory: SessionFactory
) -> None:
    """Two app instances sharing Redis, as two API processes: the one that did not take the
    update serves the new page once its check interval (at most a second) has passed."""
    world = await build_world(factory)
    async with api(settings) as writer, api(settings) as reader:
        notice = await post_notice(writer, world.keys["officer"], world.academie, "ENT en panne")
        before = await reader.get("/status/STRAS")
        await post_update(writer, world.keys["officer"], notice["id"], "resolved", "ENT rétabli.")
        on_writer = await writer.get("/status/STRAS")
        await asyncio.sleep(settings.status_check_interval_s)
        after = await reader.get("/status/STRAS")
    assert "Recherche en cours" in before.text and "Aucun incident en cours." not in before.text
    assert "Aucun incident en cours." in on_writer.text  # the writer at once
    assert "Aucun incident en cours." in after.text and "ENT rétabli." in after.text
    assert settings.status_check_interval_s <= 1


async def test_withdrawing_a_notice_removes_it_at_once(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    async with api(settings) as client:
        notice = await post_notice(client, world.keys["head_x"], world.school_x, "Panne ENT")
        shown = await client.get("/status/STRAS")
        await client.patch(
            f"/api/v1/notices/{notice['id']}",
            headers={"Authorization": f"Bearer {world.keys['head_x']}"},
            json={"public": False},
        )
        hidden = await client.get("/status/STRAS")
    assert "Panne ENT" in shown.text
    assert "Panne ENT" not in hidden.text

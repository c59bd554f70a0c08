"""The public status site, served as bytes: rendered once per change, read from memory.

Each resource (a page, its banner, JSON, Atom feed, manifest) is rendered when a notice it shows
changes, at publication (:meth:`StatusSite.refresh`), and kept in Redis as bytes with their
gzip and brotli forms and a strong ETag. Every process keeps the entries it served in memory
and asks Redis for the site's version at most every ``status_check_interval_s`` (0.25 s): a hit
touches neither the database nor, most of the time, Redis, and a page is never stale by more
than that after an update. A change bumps the version, so every process drops its memory.

The pages of the changed organisations and of those above them (a few) are rendered at once;
those beneath them (an académie's thousands of schools) are purged and rendered by the first
request that wants them, one renderer at a time (a Redis lock), the others waiting for its bytes.
A render that raced with a change is not stored (the version is watched).

Redis down: the entries in memory keep being served (``stale-if-error``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import RedisError, WatchError
from sqlalchemy.ext.asyncio import AsyncSession

from broadcast.accounts.scoped import covers
from broadcast.core.db import SessionFactory
from broadcast.core.timeutil import utcnow
from broadcast.directory.models import Organisation
from broadcast.notices.catalogue import catalogue_of
from broadcast.settings import Settings
from broadcast.status import urls
from broadcast.status.entry import Entry
from broadcast.status.pages import (
    OrgRef,
    affected_organisations,
    all_organisations,
    load_academies,
    load_page,
    organisation_by_code,
)
from broadcast.status.render import SiteContext, StatusRenderer

log = logging.getLogger(__name__)

PREFIX = "broadcast:status:"
VERSION_KEY = PREFIX + "version"
LOCK_MS = 10_000
WAIT_FOR_RENDER_S = 2.0
MISSING_TTL_S = 30.0
"""An unknown organisation's 404 is remembered this long (directory imports add schools)."""


def _entry_key(key: str) -> str:
    return f"{PREFIX}r:{key}"


class StatusSite:
    def __init__(self, factory: SessionFactory, redis: Redis, settings: Settings) -> None:
        self._factory = factory
        self._redis = redis
        self._renderer = StatusRenderer(
            SiteContext(settings.public_base_url, catalogue_of(settings))
        )
        self._interval_s = settings.status_check_interval_s
        self._export_dir = settings.status_export_dir
        self._assets = {key: Entry.of(key, self._asset(key)) for key in urls.asset_keys()}
        self._memory: dict[str, Entry] = {}
        self._missing: dict[str, float] = {}
        self._version: bytes | None = None
        self._checked_at = 0.0

    @property
    def renderer(self) -> StatusRenderer:
        return self._renderer

    def _asset(self, key: str) -> bytes:
        return self._renderer.asset(key.removeprefix(urls.ROOT + "/"))

    async def get(self, key: str) -> Entry | None:
        """The resource's bytes; None when the site has no such resource."""
        asset = self._assets.get(key)
        if asset is not None:
            return asset
        await self._check_version()
        entry = self._memory.get(key)
        if entry is not None:
            return entry
        if self._missing.get(key, 0.0) > time.monotonic():
            return None
        return await self._load(key)

    async def _check_version(self) -> None:
        now = time.monotonic()
        if now - self._checked_at < self._interval_s:
            return
        self._checked_at = now  # before the await: one request a period asks, not every one
        try:
            version = await self._redis.get(VERSION_KEY)
        except RedisError:
            log.warning("status site: Redis unreachable, serving what is in memory")
            return
        if version != self._version:
            self._forget(version)

    def _forget(self, version: bytes | None) -> None:
        self._memory.clear()
        self._missing.clear()
        self._version = version

    async def _load(self, key: str) -> Entry | None:
        entry = await self._stored(key)
        if entry is None:
            entry = await self._render_once(key)
        if entry is None:
            self._missing[key] = time.monotonic() + MISSING_TTL_S
        else:
            self._memory[key] = entry
        return entry

    async def _stored(self, key: str) -> Entry | None:
        return Entry.from_redis(await self._redis.hgetall(_entry_key(key)))  # type: ignore[misc]

    async def _render_once(self, key: str) -> Entry | None:
        """Render on a miss, one process at a time; the others wait for its bytes."""
        lock = f"{PREFIX}lock:{key}"
        if not await self._redis.set(lock, b"1", nx=True, px=LOCK_MS):
            waited = await self._wait_for(key)
            if waited is not None:
                return waited
        try:
            version = await self._redis.get(VERSION_KEY)
            entry = await self._render_key(key)
            if entry is not None:
                await self._store_if_current(key, entry, version)
            return entry
        finally:
            await self._redis.delete(lock)

    async def _wait_for(self, key: str) -> Entry | None:
        deadline = time.monotonic() + WAIT_FOR_RENDER_S
        while time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            entry = await self._stored(key)
            if entry is not None:
                return entry
        return None

    async def _store_if_current(self, key: str, entry: Entry, version: bytes | None) -> None:
        """Store a lazily rendered entry unless a change happened while it was rendered."""
        async with self._redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(VERSION_KEY)
                if await pipe.get(VERSION_KEY) != version:
                    return
                pipe.multi()  # type: ignore[no-untyped-call]
                pipe.hset(_entry_key(key), mapping=entry.to_redis())  # type: ignore[arg-type]
                await pipe.execute()
            except WatchError:
                return

    async def _render_key(self, key: str) -> Entry | None:
        resource = urls.resource_of(key)
        if resource is None:
            return None
        async with self._factory() as session:
            if resource.kind == "index":
                return await self._index_entry(session, key, resource.locale, utcnow())
            organisation = await organisation_by_code(session, resource.code or "")
            if organisation is None:
                return None
            rendered = await self._render_org(session, OrgRef.of(organisation), utcnow())
        return rendered.get(key)

    async def _index_entry(
        self, session: AsyncSession, key: str, locale: str, now: datetime
    ) -> Entry:
        academies = await load_academies(session)
        return Entry.of(key, self._renderer.index(academies, locale, now))

    async def _render_org(
        self, session: AsyncSession, org: OrgRef, now: datetime
    ) -> dict[str, Entry]:
        """Every resource of one organisation's page, from one read of the database."""
        organisation = await session.get(Organisation, org.id)
        assert organisation is not None
        page = await load_page(session, organisation, now)
        r = self._renderer
        bodies = {
            "index.html": r.page(page, "fr", now),
            "en/index.html": r.page(page, "en", now),
            "banner/index.html": r.banner(page, "fr", now),
            "banner/en/index.html": r.banner(page, "en", now),
            "status.json": r.json_document(page, now),
            "feed.atom": r.atom(page, now),
            "manifest.webmanifest": r.manifest(org),
        }
        prefix = f"{urls.ROOT}/{org.code}/"
        return {prefix + name: Entry.of(prefix + name, body) for name, body in bodies.items()}

    async def refresh(self, organisation_ids: Iterable[int]) -> None:
        """After a commit that changed notices of these organisations: render their pages and
        those above them, purge those beneath, bump the version; update the static copy."""
        changed = set(organisation_ids)
        if not changed:
            return
        now = utcnow()
        async with self._factory() as session:
            affected = await affected_organisations(session, changed)
            eager = [org for org in affected if _at_or_above_a_change(org, affected, changed)]
            rendered: dict[str, Entry] = {}
            for org in eager:
                rendered.update(await self._render_org(session, org, now))
            for key in urls.index_keys():
                rendered[key] = await self._index_entry(session, key, _locale(key), now)
        purged = [k for org in affected if org not in eager for k in urls.org_keys(org.code)]
        await self._publish(rendered, purged)
        if self._export_dir is not None:
            await self._export_keys(self._export_dir, [*rendered, *purged])

    async def _publish(self, rendered: dict[str, Entry], purged: list[str]) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            for key, entry in rendered.items():
                pipe.delete(_entry_key(key))
                pipe.hset(_entry_key(key), mapping=entry.to_redis())  # type: ignore[arg-type]
            if purged:
                pipe.delete(*(_entry_key(key) for key in purged))
            pipe.incr(VERSION_KEY)
            results = await pipe.execute()
        self._forget(str(results[-1]).encode())
        self._memory.update(rendered)
        self._checked_at = time.monotonic()

    async def export(self, directory: Path) -> int:
        """Write the whole public site as static files under ``directory``; returns how many."""
        async with self._factory() as session:
            organisations = await all_organisations(session)
        keys = [*urls.asset_keys(), *urls.index_keys()]
        keys += [key for org in organisations for key in urls.org_keys(org.code)]
        await self._export_keys(directory, keys)
        return len(keys)

    async def _export_keys(self, directory: Path, keys: Iterable[str]) -> None:
        for key in keys:
            entry = await self.get(key)
            if entry is not None:
                _write_atomically(directory / key, entry.body)


def _at_or_above_a_change(org: OrgRef, affected: list[OrgRef], changed: set[int]) -> bool:
    changed_paths = [o.path for o in affected if o.id in changed]
    return any(covers(org.path, path) for path in changed_paths)


def _locale(key: str) -> str:
    return "en" if "/en/" in key else "fr"


def _write_atomically(path: Path, body: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(body)
    os.replace(temporary, path)

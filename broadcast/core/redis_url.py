"""Where Redis is, from one URL: a single server, or the Sentinels that know the primary.

- ``redis://[:password@]host:6379/0``, ``rediss://...``, ``unix:///run/redis.sock``: one server;
- ``redis+sentinel://[:password@]s1:26379,s2:26379,s3:26379/mymaster[/0]``: the Sentinels (port
  26379 unless given), the name of the group they watch, and the database. Every connection asks
  them which server is the primary, so after a failover the next connection goes to the new one
  (the password is the primary's; Sentinels that want their own are not supported).

The API, the workers and the commands all connect through :func:`connect` (or, for arq's
workers, :func:`redis_settings`), so that one setting, ``BROADCAST_REDIS_URL``, serves them all.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from arq.connections import ArqRedis, RedisSettings, create_pool

SENTINEL_SCHEME = "redis+sentinel"
SENTINEL_PORT = 26379


class RedisUrlError(ValueError):
    """A ``BROADCAST_REDIS_URL`` that names no Redis we can reach."""


def redis_settings(url: str) -> RedisSettings:
    """arq's connection settings for ``url`` (see the module's documentation)."""
    if urlsplit(url).scheme != SENTINEL_SCHEME:
        try:
            return RedisSettings.from_dsn(url)
        except (RuntimeError, ValueError) as exc:
            raise RedisUrlError(f"invalid Redis URL: {exc}") from exc
    return _sentinel_settings(url)


async def connect(url: str) -> ArqRedis:
    """A pool on the Redis that ``url`` names (the primary, behind Sentinels)."""
    return await create_pool(redis_settings(url))


def _sentinel_settings(url: str) -> RedisSettings:
    parts = urlsplit(url)
    credentials, _, hosts = parts.netloc.rpartition("@")
    password = unquote(credentials.partition(":")[2]) or None if credentials else None
    path = [p for p in parts.path.split("/") if p]
    if not hosts or not path or len(path) > 2:
        raise RedisUrlError(
            "a Sentinel URL names its Sentinels and its group: "
            "redis+sentinel://host:26379,host:26379/mymaster[/db]"
        )
    return RedisSettings(
        host=[_host_and_port(h) for h in hosts.split(",")],
        sentinel=True,
        sentinel_master=path[0],
        database=_database(path[1]) if len(path) == 2 else 0,
        password=password,
    )


def _host_and_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":") if ":" in text else (text, "", "")
    if not host:
        raise RedisUrlError(f"no host in the Sentinel address {text!r}")
    try:
        return host, int(port) if port else SENTINEL_PORT
    except ValueError as exc:
        raise RedisUrlError(f"invalid port in the Sentinel address {text!r}") from exc


def _database(text: str) -> int:
    try:
        return int(text)
    except ValueError as exc:
        raise RedisUrlError(f"invalid database number {text!r} in the Sentinel URL") from exc

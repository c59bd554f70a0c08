"""Telling an outage of the database or Redis from a fault of the work itself.

A worker meets both on an outage morning: PostgreSQL restarted by its operator, Redis failed
over. Neither is a reason to give up a job or to stop the process: the job is tried again a
moment later, and the process waits for the service to come back.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from arq import Retry
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

log = logging.getLogger(__name__)

OUTAGE_RETRY_S = 2.0

P = ParamSpec("P")
T = TypeVar("T")


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` says a service did not answer, rather than that the work is wrong."""
    if isinstance(exc, RedisConnectionError | RedisTimeoutError | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, OperationalError | InterfaceError) or _socket_missing(exc):
        return True
    if isinstance(exc, DBAPIError) and (exc.connection_invalidated or _server_away(exc)):
        return True
    cause = exc.__cause__ or exc.__context__
    return cause is not None and cause is not exc and is_outage(cause)


def _socket_missing(exc: BaseException) -> bool:
    """A connection to a unix socket that is not there (PostgreSQL or Redis restarting):
    unlike a file that is missing, the error names no file."""
    return isinstance(exc, FileNotFoundError) and exc.filename is None


def _server_away(exc: DBAPIError) -> bool:
    """SQLSTATE class 08 (connection exception) or 57 (shut down, starting up, cancelled)."""
    state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return isinstance(state, str) and state[:2] in {"08", "57"}


def retry_on_outage(
    task: Callable[P, Coroutine[Any, Any, T]],
) -> Callable[P, Coroutine[Any, Any, T]]:
    """An arq task that asks to run again shortly when the database or Redis is away."""

    @functools.wraps(task)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await task(*args, **kwargs)
        except Retry:
            raise
        except Exception as exc:
            if not is_outage(exc):
                raise
            log.warning("%s: service unavailable (%s); tried again shortly", task.__name__, exc)
            raise Retry(defer=OUTAGE_RETRY_S) from exc

    return wrapper


async def wait_out_outages(
    run: Callable[[], Awaitable[Any]], *, name: str, max_delay_s: float = 5.0
) -> None:
    """Run ``run`` again whenever it ends on an outage, waiting a little longer each time."""
    delay = 0.5
    while True:
        try:
            await run()
            return
        except Exception as exc:
            if not is_outage(exc):
                raise
            log.warning("%s: service unavailable (%s); trying again in %.1f s", name, exc, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_delay_s)

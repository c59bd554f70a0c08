"""Request dependencies: the unit of work (one transaction per request) and the principal."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from broadcast.accounts.permissions import Permission
from broadcast.accounts.service import Principal, authenticate_api_key
from broadcast.core.errors import Unauthenticated
from broadcast.jobs import JobQueue
from broadcast.settings import Settings
from broadcast.status.changes import take_status_changes
from broadcast.webhooks.events import take_emitted


@dataclass
class UnitOfWork:
    """The request's session; work registered with :meth:`after_commit` runs once it commits
    (jobs are enqueued only after the rows they need are visible), and so does the enqueueing
    of the webhook messages its services emitted (:func:`broadcast.webhooks.events.emit_event`)."""

    session: AsyncSession
    _after_commit: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def after_commit(self, work: Callable[[], Awaitable[None]]) -> None:
        self._after_commit.append(work)


async def unit_of_work(request: Request) -> AsyncIterator[UnitOfWork]:
    async with request.app.state.session_factory() as session:
        uow = UnitOfWork(session)
        try:
            yield uow
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
    for work in uow._after_commit:
        await work()
    await _enqueue_webhooks(request, take_emitted(uow.session))
    await _refresh_status_pages(request, take_status_changes(uow.session))


async def _enqueue_webhooks(request: Request, message_ids: list[int]) -> None:
    """Webhook messages the request's services emitted, enqueued now that they are visible."""
    if message_ids:
        queue: JobQueue = request.app.state.queue
        await queue.enqueue_webhooks(message_ids)


async def _refresh_status_pages(request: Request, organisation_ids: set[int]) -> None:
    """The public pages showing notices the request changed, rendered now that it committed."""
    if organisation_ids:
        await request.app.state.status_site.refresh(organisation_ids)


UowDep = Annotated[UnitOfWork, Depends(unit_of_work, scope="function")]
"""Committed before the response is sent ("function" scope): a browser following a redirect, or
a client reading what it just wrote, finds it; a failed commit is the request's error, not a
success already answered (FastAPI's default scope would end the dependency after sending)."""
_bearer = HTTPBearer(auto_error=False, description="Clé d'API : `Authorization: Bearer bc_...`")


def requires(permission: Permission) -> Any:
    """A dependency giving the authenticated principal, refused (403) without ``permission``."""

    async def principal(
        uow: UowDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None:
            raise Unauthenticated()
        found = await authenticate_api_key(uow.session, credentials.credentials)
        found.require(permission)
        return found

    principal.permission = permission  # type: ignore[attr-defined]  # read by the route matrix test
    return Depends(principal)


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_queue(request: Request) -> JobQueue:
    queue: JobQueue = request.app.state.queue
    return queue


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
QueueDep = Annotated[JobQueue, Depends(get_queue)]


def locale_of(request: Request) -> str:
    return "en" if request.headers.get("accept-language", "").lower().startswith("en") else "fr"

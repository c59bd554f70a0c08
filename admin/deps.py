"""Request dependencies: the unit of work (one transaction per request) and the principal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from broadcast.accounts.permissions import Permission
from broadcast.accounts.service import Principal, authenticate_api_key
from broadcast.core.errors import Unauthenticated
from broadcast.core.uow import UnitOfWork
from broadcast.core.uow import unit_of_work as open_unit_of_work
from broadcast.settings import Settings
from broadcast.status.changes import take_status_changes


async def unit_of_work(request: Request) -> AsyncIterator[UnitOfWork]:
    """One transaction per request (:mod:`broadcast.core.uow`): once it commits, the jobs its
    services asked for are enqueued and the public pages it changed are rendered again."""
    factory, redis = request.app.state.session_factory, request.app.state.redis
    async with open_unit_of_work(factory, redis) as uow:
        uow.after_commit(lambda: _refresh_status_pages(request, take_status_changes(uow.session)))
        yield uow


async def _refresh_status_pages(request: Request, organisation_ids: set[int]) -> None:
    """The public pages showing notices the request changed, rendered now that it committed."""
    if organisation_ids:
        await request.app.state.status_site.refresh(organisation_ids)


UowDep = Annotated[UnitOfWork, Depends(unit_of_work, scope="function")]
"""Committed before the answer leaves (``scope="function"``): a client that follows a redirect
or reads back what it wrote at once finds it, and a failed commit is the answer's error."""
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


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def locale_of(request: Request) -> str:
    return "en" if request.headers.get("accept-language", "").lower().startswith("en") else "fr"

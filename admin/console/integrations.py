"""Clés d'API: the keys in scope, a key's page, the form that creates one (its secret shown
once, on the answer), and the confirmed revocation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from admin.console.deps import ConsoleUser, console_requires
from admin.console.forms import discard
from admin.console.web import page, redirect
from admin.deps import UowDep
from broadcast.accounts import keys
from broadcast.accounts.permissions import Permission
from broadcast.core.errors import DomainError
from broadcast.core.validation import RowId
from broadcast.directory.service import organisations_in_scope

router = APIRouter(prefix="/console/integrations", include_in_schema=False)
Reader = Annotated[ConsoleUser, console_requires(Permission.integrations_read)]
Manager = Annotated[ConsoleUser, console_requires(Permission.integrations_manage)]
Short = Annotated[str, Form(max_length=200)]
PAGE = 50


@router.get("/cles")
async def key_list(
    request: Request,
    uow: UowDep,
    user: Reader,
    before: Annotated[RowId, Query(alias="avant")] = 0,
) -> Response:
    lines = await keys.list_keys(uow.session, user.principal, before=before, limit=PAGE)
    return page(
        request,
        "api_keys.html",
        locale=user.locale,
        user=user,
        lines=lines,
        older=f"?avant={lines[-1].id}" if len(lines) == PAGE else "",
        can_manage=user.principal.can(Permission.integrations_manage),
        can_webhooks=user.principal.can(Permission.webhooks_manage),
        done=request.query_params.get("fait", ""),
    )


@router.get("/cles/nouvelle")
async def new_key(request: Request, uow: UowDep, user: Manager) -> Response:
    return await _new_key_page(request, uow, user)


async def _new_key_page(
    request: Request,
    uow: UowDep,
    user: ConsoleUser,
    *,
    error: str | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return page(
        request,
        "api_key_new.html",
        locale=user.locale,
        user=user,
        organisations=await organisations_in_scope(uow.session, user.principal),
        roles=[role.value for role in keys.roles_for(user.principal)],
        error=error,
        typed=typed or {"organisation": str(user.organisation.id), "role": "viewer"},
        status_code=status_code,
    )


@router.post("/cles")
async def create_key(
    request: Request,
    uow: UowDep,
    user: Manager,
    name: Short = "",
    organisation: Annotated[str, Form(max_length=20)] = "",
    role: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    typed = {"name": name, "organisation": organisation, "role": role}
    try:
        organisation_id = int(organisation) if organisation.isdigit() else 0
        key, plaintext = await keys.create_key(
            uow.session, user.principal, name=name, organisation_id=organisation_id, role=role
        )
    except DomainError as refused:
        await discard(uow, user)
        return await _new_key_page(
            request, uow, user, error=refused.message(user.locale), typed=typed, status_code=422
        )
    shown = await keys.get_key(uow.session, user.principal, key.id or 0)
    return page(
        request, "api_key_created.html", locale=user.locale, user=user, key=shown, secret=plaintext
    )


@router.get("/cles/{key_id}")
async def key_page(request: Request, uow: UowDep, user: Reader, key_id: RowId) -> Response:
    return page(
        request,
        "api_key.html",
        locale=user.locale,
        user=user,
        key=await keys.get_key(uow.session, user.principal, key_id),
        can_manage=user.principal.can(Permission.integrations_manage),
    )


@router.get("/cles/{key_id}/revocation")
async def confirm_revoke(request: Request, uow: UowDep, user: Manager, key_id: RowId) -> Response:
    return page(
        request,
        "api_key_revoke.html",
        locale=user.locale,
        user=user,
        key=await keys.get_key(uow.session, user.principal, key_id),
    )


@router.post("/cles/{key_id}/revocation")
async def revoke(uow: UowDep, user: Manager, key_id: RowId) -> Response:
    await keys.revoke_key(uow.session, user.principal, key_id)
    return redirect("/console/integrations/cles?fait=revoquee")

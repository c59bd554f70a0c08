"""Webhooks: the endpoints in scope, the form that creates one (its secret shown once, on the
answer), an endpoint's page with its delivery history in pages, "Envoyer un test", and the
confirmed disabling and deletion."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from admin.console.deps import ConsoleUser, console_requires
from admin.console.forms import discard, form_error, form_lists
from admin.console.web import page, redirect
from admin.deps import UowDep
from broadcast.accounts.permissions import Permission
from broadcast.core.errors import DomainError
from broadcast.core.validation import BigRowId, RowId
from broadcast.directory.service import organisations_in_scope
from broadcast.webhooks import service
from broadcast.webhooks.models import WebhookEvent
from broadcast.webhooks.schemas import EndpointIn, EndpointPatch
from broadcast.webhooks.service import UrlPolicy

router = APIRouter(prefix="/console/integrations/webhooks", include_in_schema=False)
Manager = Annotated[ConsoleUser, console_requires(Permission.webhooks_manage)]
PAGE = 50
ACTIONS = ("desactivation", "suppression")


@router.get("")
async def endpoint_list(request: Request, uow: UowDep, user: Manager) -> Response:
    endpoints = await service.list_endpoints(uow.session, user.principal, limit=500)
    names = {o.id: o.code for o in await organisations_in_scope(uow.session, user.principal)}
    return page(
        request,
        "webhooks.html",
        locale=user.locale,
        user=user,
        endpoints=endpoints,
        names=names,
        done=request.query_params.get("fait", ""),
    )


@router.get("/nouveau")
async def new_endpoint(request: Request, uow: UowDep, user: Manager) -> Response:
    return await _new_page(request, uow, user)


async def _new_page(
    request: Request,
    uow: UowDep,
    user: ConsoleUser,
    *,
    error: str | None = None,
    typed: dict[str, str] | None = None,
    chosen: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    return page(
        request,
        "webhook_new.html",
        locale=user.locale,
        user=user,
        organisations=await organisations_in_scope(uow.session, user.principal),
        events=[event.value for event in WebhookEvent],
        chosen=chosen if chosen is not None else [event.value for event in WebhookEvent],
        error=error,
        typed=typed or {"organisation": str(user.organisation.id)},
        status_code=status_code,
    )


@router.post("")
async def create_endpoint(
    request: Request,
    uow: UowDep,
    user: Manager,
    url: Annotated[str, Form(max_length=2000)] = "",
    description: Annotated[str, Form(max_length=200)] = "",
    organisation: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    chosen = await form_lists(request, "events")
    typed = {"url": url, "description": description, "organisation": organisation}
    policy = UrlPolicy.from_settings(request.app.state.settings)
    try:
        data = EndpointIn(
            organisation_id=int(organisation) if organisation.isdigit() else 0,
            url=url,
            description=description,
            events=chosen,  # type: ignore[arg-type]  # validated into WebhookEvent
        )
        endpoint = await service.create_endpoint(uow.session, user.principal, data, policy)
    except (ValidationError, DomainError) as refused:
        await discard(uow, user)
        message, status_code = form_error(refused, user.locale)
        return await _new_page(
            request,
            uow,
            user,
            error=message,
            typed=typed,
            chosen=chosen,
            status_code=status_code if status_code >= 400 else 422,
        )
    return page(request, "webhook_created.html", locale=user.locale, user=user, endpoint=endpoint)


@router.get("/{webhook_id}")
async def endpoint_page(
    request: Request,
    uow: UowDep,
    user: Manager,
    webhook_id: RowId,
    before: Annotated[BigRowId, Query(alias="avant")] = 0,
) -> Response:
    endpoint = await service.get_endpoint(uow.session, user.principal, webhook_id)
    messages = await service.list_messages(uow.session, endpoint, before=before, limit=PAGE)
    names = {o.id: o.code for o in await organisations_in_scope(uow.session, user.principal)}
    return page(
        request,
        "webhook.html",
        locale=user.locale,
        user=user,
        endpoint=endpoint,
        organisation_code=names.get(endpoint.organisation_id, ""),
        messages=messages,
        older=f"?avant={messages[-1].id}" if len(messages) == PAGE else "",
        done=request.query_params.get("fait", ""),
        error=None,
    )


@router.post("/{webhook_id}/test")
async def send_test(request: Request, uow: UowDep, user: Manager, webhook_id: RowId) -> Response:
    endpoint = await service.get_endpoint(uow.session, user.principal, webhook_id)
    await service.send_test(uow.session, endpoint)
    return redirect(f"/console/integrations/webhooks/{webhook_id}?fait=test")


@router.post("/{webhook_id}/activation")
async def enable(request: Request, uow: UowDep, user: Manager, webhook_id: RowId) -> Response:
    endpoint = await service.get_endpoint(uow.session, user.principal, webhook_id)
    policy = UrlPolicy.from_settings(request.app.state.settings)
    await service.update_endpoint(
        uow.session, user.principal, endpoint, EndpointPatch(enabled=True), policy
    )
    return redirect(f"/console/integrations/webhooks/{webhook_id}?fait=active")


@router.get("/{webhook_id}/{action}")
async def confirm(
    request: Request, uow: UowDep, user: Manager, webhook_id: RowId, action: str
) -> Response:
    endpoint = await service.get_endpoint(uow.session, user.principal, webhook_id)
    if action not in ACTIONS:
        return redirect(f"/console/integrations/webhooks/{webhook_id}")
    return page(
        request,
        "webhook_confirm.html",
        locale=user.locale,
        user=user,
        endpoint=endpoint,
        action=action,
    )


@router.post("/{webhook_id}/desactivation")
async def disable(request: Request, uow: UowDep, user: Manager, webhook_id: RowId) -> Response:
    endpoint = await service.get_endpoint(uow.session, user.principal, webhook_id)
    policy = UrlPolicy.from_settings(request.app.state.settings)
    await service.update_endpoint(
        uow.session, user.principal, endpoint, EndpointPatch(enabled=False), policy
    )
    return redirect(f"/console/integrations/webhooks/{webhook_id}?fait=desactive")


@router.post("/{webhook_id}/suppression")
async def delete(uow: UowDep, user: Manager, webhook_id: RowId) -> Response:
    endpoint = await service.get_endpoint(uow.session, user.principal, webhook_id)
    await service.delete_endpoint(uow.session, user.principal, endpoint)
    return redirect("/console/integrations/webhooks?fait=supprime")

"""Outbound webhook endpoints: subscribe a system to events, see what it was sent."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from admin.api.pages import CursorParam, LimitParam, Page, page_of
from admin.deps import SettingsDep, UowDep, requires
from admin.idempotency import idempotent
from broadcast.accounts.permissions import Permission
from broadcast.accounts.service import Principal
from broadcast.core.validation import BigRowId, RowId
from broadcast.webhooks import service
from broadcast.webhooks.schemas import (
    EndpointCreated,
    EndpointIn,
    EndpointOut,
    EndpointPatch,
    MessageOut,
    endpoint_created,
    endpoint_out,
    message_out,
)
from broadcast.webhooks.service import UrlPolicy

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

Manager = Annotated[Principal, requires(Permission.webhooks_manage)]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=EndpointCreated)
@idempotent
async def create_endpoint(
    uow: UowDep, principal: Manager, settings: SettingsDep, body: EndpointIn
) -> EndpointCreated:
    """The response carries the signing secret `whsec_...`: it is shown this once."""
    policy = UrlPolicy.from_settings(settings)
    created = await service.create_endpoint(uow.session, principal, body, policy)
    return endpoint_created(created)


@router.get("", response_model=Page[EndpointOut])
async def list_endpoints(
    uow: UowDep, principal: Manager, cursor: CursorParam = 0, limit: LimitParam = 50
) -> Page[EndpointOut]:
    found = await service.list_endpoints(uow.session, principal, after=cursor, limit=limit)
    return page_of([endpoint_out(e) for e in found], [e.id for e in found], limit)


@router.get("/{webhook_id}", response_model=EndpointOut)
async def read_endpoint(uow: UowDep, principal: Manager, webhook_id: RowId) -> EndpointOut:
    found = await service.get_endpoint(uow.session, principal, webhook_id)
    return endpoint_out(found)


@router.patch("/{webhook_id}", response_model=EndpointOut)
async def update_endpoint(
    uow: UowDep, principal: Manager, settings: SettingsDep, webhook_id: RowId, body: EndpointPatch
) -> EndpointOut:
    """Change the URL, events, description, or enable it again (which clears why it was
    disabled)."""
    found = await service.get_endpoint(uow.session, principal, webhook_id)
    policy = UrlPolicy.from_settings(settings)
    await service.update_endpoint(uow.session, principal, found, body, policy)
    return endpoint_out(found)


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_endpoint(uow: UowDep, principal: Manager, webhook_id: RowId) -> Response:
    found = await service.get_endpoint(uow.session, principal, webhook_id)
    await service.delete_endpoint(uow.session, principal, found)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{webhook_id}/messages", response_model=list[MessageOut])
async def list_messages(
    uow: UowDep,
    principal: Manager,
    webhook_id: RowId,
    before: Annotated[
        BigRowId | None, Query(ge=1, description="id of the oldest message seen")
    ] = None,
    limit: LimitParam = 50,
) -> list[MessageOut]:
    """The most recent messages first: event, status, attempts, last HTTP code and error."""
    found = await service.get_endpoint(uow.session, principal, webhook_id)
    messages = await service.list_messages(uow.session, found, before=before, limit=limit)
    return [message_out(m) for m in messages]


@router.post("/{webhook_id}/test", status_code=status.HTTP_202_ACCEPTED, response_model=MessageOut)
async def send_test(uow: UowDep, principal: Manager, webhook_id: RowId) -> MessageOut:
    """Send a signed `webhook.ping` now; follow it in `/messages`."""
    found = await service.get_endpoint(uow.session, principal, webhook_id)
    return message_out(await service.send_test(uow.session, found))

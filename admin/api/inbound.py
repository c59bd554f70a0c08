"""Monitoring sources and what they post: Alertmanager and generic signed webhooks (RULES W4).

Sources are managed with an API key; the two receiving routes take no API key but the source's
own secret (Alertmanager's bearer token, or a Standard Webhooks signature). In
``alertmanager.yml``, with the id and secret the creation answered::

    receivers:
      - name: broadcast
        webhook_configs:
          - url: https://info.ac-exemple.fr/api/v1/inbound/alertmanager/<id>
            send_resolved: true            # so that "résolu" can be proposed
            http_config:
              authorization: {credentials: <secret>}
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Header, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from admin.api.answers import notice_answer
from admin.api.pages import CursorParam, LimitParam, Page, page_of
from admin.deps import SettingsDep, UowDep, requires
from admin.idempotency import idempotent
from broadcast.accounts.permissions import Permission
from broadcast.accounts.service import Principal
from broadcast.core.errors import PayloadTooLarge
from broadcast.core.timeutil import utcnow
from broadcast.core.validation import RowId
from broadcast.inbound import service
from broadcast.inbound.alertmanager import AlertmanagerPayload, alert_events
from broadcast.inbound.generic import GenericAlert
from broadcast.inbound.models import InboundKind
from broadcast.inbound.schemas import (
    InboundSourceIn,
    InboundSourceOut,
    InboundSourcePatch,
    ProposalOut,
    proposal_out,
    source_out,
)
from broadcast.notices.schemas import NoticeOut
from broadcast.webhooks.signing import verify

router = APIRouter(tags=["inbound"])

MAX_BODY_BYTES = 512 * 1024
Model = TypeVar("Model", bound=BaseModel)

Reader = Annotated[Principal, requires(Permission.integrations_read)]
Manager = Annotated[Principal, requires(Permission.integrations_manage)]
NoticeReader = Annotated[Principal, requires(Permission.notices_read)]
NoticeWriter = Annotated[Principal, requires(Permission.notices_write)]


@router.post(
    "/inbound-sources", status_code=status.HTTP_201_CREATED, response_model=InboundSourceOut
)
@idempotent
async def create_source(uow: UowDep, principal: Manager, body: InboundSourceIn) -> InboundSourceOut:
    """A monitoring source; its secret is in this answer only, never shown again."""
    created = await service.create_source(uow.session, principal, body)
    return source_out(created, with_secret=True)


@router.get("/inbound-sources", response_model=Page[InboundSourceOut])
async def list_sources(
    uow: UowDep, principal: Reader, cursor: CursorParam = 0, limit: LimitParam = 50
) -> Page[InboundSourceOut]:
    found = await service.list_sources(uow.session, principal, after=cursor, limit=limit)
    return page_of([source_out(s) for s in found], [s.id for s in found], limit)


@router.get("/inbound-sources/{source_id}", response_model=InboundSourceOut)
async def read_source(uow: UowDep, principal: Reader, source_id: RowId) -> InboundSourceOut:
    return source_out(await service.get_source(uow.session, principal, source_id))


@router.patch("/inbound-sources/{source_id}", response_model=InboundSourceOut)
async def update_source(
    uow: UowDep, principal: Reader, source_id: RowId, body: InboundSourcePatch
) -> InboundSourceOut:
    """Outside the caller's scope 404; within it, 403 unless the role manages integrations."""
    source = await service.get_source(uow.session, principal, source_id)
    return source_out(await service.update_source(uow.session, principal, source, body))


@router.delete("/inbound-sources/{source_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_source(uow: UowDep, principal: Reader, source_id: RowId) -> Response:
    """Outside the caller's scope 404; within it, 403 unless the role manages integrations."""
    source = await service.get_source(uow.session, principal, source_id)
    await service.delete_source(uow.session, principal, source)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/inbound/proposals", response_model=Page[ProposalOut])
async def list_proposals(
    uow: UowDep, principal: NoticeReader, cursor: CursorParam = 0, limit: LimitParam = 50
) -> Page[ProposalOut]:
    """Alerts the monitoring system says are over, waiting for a person to confirm."""
    found = await service.list_proposals(uow.session, principal, after=cursor, limit=limit)
    return page_of([proposal_out(p) for p in found], [p.alert.id for p in found], limit)


@router.post("/inbound/alerts/{alert_id}/confirm-resolution", response_model=NoticeOut)
async def confirm_resolution(uow: UowDep, principal: NoticeWriter, alert_id: RowId) -> NoticeOut:
    """Add the proposed "résolu" update to the notice the alert opened."""
    notice = await service.confirm_resolution(uow.session, principal, alert_id)
    return await notice_answer(uow.session, notice)


@router.post("/inbound/alertmanager/{source_id}")
async def receive_alertmanager(
    request: Request,
    uow: UowDep,
    settings: SettingsDep,
    source_id: RowId,
    authorization: Annotated[str, Header()] = "",
) -> dict[str, Any]:
    """Prometheus Alertmanager's webhook (``http_config.authorization.credentials`` is the
    source's secret). A repeated alert changes nothing; de-duplication is by fingerprint."""
    source = await service.source_for_kind(uow.session, source_id, InboundKind.alertmanager)
    service.check_bearer(source, authorization)
    payload = _parse(AlertmanagerPayload, await _limited_body(request))
    received = await service.receive(uow.session, source, alert_events(payload), settings)
    return {"replay": False, **received.summary()}


@router.post("/inbound/generic/{source_id}")
async def receive_generic(
    request: Request, uow: UowDep, settings: SettingsDep, source_id: RowId
) -> dict[str, Any]:
    """One alert as JSON, signed with Standard Webhooks headers by the source's ``whsec_``
    secret; a timestamp more than 5 minutes off is refused, a replayed ``webhook-id`` ignored."""
    source = await service.source_for_kind(uow.session, source_id, InboundKind.generic)
    body = await _limited_body(request)
    verify(source.secret, request.headers, body, now=utcnow())
    if not await service.first_receipt(uow.session, source, request.headers["webhook-id"][:128]):
        return {"replay": True}
    alert = _parse(GenericAlert, body)
    received = await service.receive(uow.session, source, [alert.event()], settings)
    return {"replay": False, **received.summary()}


async def _limited_body(request: Request) -> bytes:
    """The body, refused (413) past :data:`MAX_BODY_BYTES` without reading it all."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PayloadTooLarge()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise PayloadTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(model: type[Model], body: bytes) -> Model:
    """Validated like a route's body: errors come back translated (422)."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        ) from exc

"""Saved audiences within scope, and the preview of an audience without a broadcast."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from admin.api.pages import CursorParam, LimitParam, Page, page_of
from admin.deps import SettingsDep, UowDep, requires
from admin.idempotency import idempotent
from broadcast.accounts.permissions import Permission
from broadcast.accounts.service import Principal, audit
from broadcast.audiences import saved
from broadcast.audiences.models import SavedAudience
from broadcast.audiences.preview import AudiencePreview
from broadcast.audiences.schemas import (
    AudiencePreviewIn,
    SavedAudienceIn,
    SavedAudienceOut,
    SavedAudienceUpdate,
    saved_audience_out,
)
from broadcast.broadcasts import service as broadcasts
from broadcast.core.validation import RowId

router = APIRouter(prefix="/audiences", tags=["audiences"])

Reader = Annotated[Principal, requires(Permission.audiences_read)]
Writer = Annotated[Principal, requires(Permission.audiences_write)]


def _audit(uow: UowDep, principal: Principal, action: str, audience: SavedAudience) -> None:
    audit(
        uow.session,
        principal,
        action,
        organisation_id=audience.organisation_id,
        object_type="saved_audience",
        object_id=audience.id,
        details={"name": audience.name},
    )


@router.post("/preview", response_model=AudiencePreview)
async def preview_audience(
    uow: UowDep, principal: Reader, settings: SettingsDep, body: AudiencePreviewIn
) -> AudiencePreview:
    """Recipients per channel and who is left out and why, with a few masked recipients, and
    whether a send to them would wait for approval; no broadcast is created."""
    return await broadcasts.audience_preview(uow.session, principal, body, settings)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SavedAudienceOut)
@idempotent
async def create_saved_audience(
    uow: UowDep, principal: Writer, body: SavedAudienceIn
) -> SavedAudienceOut:
    audience = await saved.create_saved_audience(uow.session, principal, body)
    _audit(uow, principal, "audience.create", audience)
    return saved_audience_out(audience)


@router.get("", response_model=Page[SavedAudienceOut])
async def list_saved_audiences(
    uow: UowDep,
    principal: Reader,
    organisation_id: Annotated[RowId | None, Query()] = None,
    cursor: CursorParam = 0,
    limit: LimitParam = 100,
) -> Page[SavedAudienceOut]:
    found = await saved.list_saved_audiences(
        uow.session, principal, organisation_id=organisation_id, after=cursor, limit=limit
    )
    return page_of([saved_audience_out(a) for a in found], [a.id for a in found], limit)


@router.get("/{audience_id}", response_model=SavedAudienceOut)
async def read_saved_audience(
    uow: UowDep, principal: Reader, audience_id: RowId
) -> SavedAudienceOut:
    return saved_audience_out(await saved.get_saved_audience(uow.session, principal, audience_id))


@router.patch("/{audience_id}", response_model=SavedAudienceOut)
async def update_saved_audience(
    uow: UowDep, principal: Writer, audience_id: RowId, body: SavedAudienceUpdate
) -> SavedAudienceOut:
    audience = await saved.update_saved_audience(uow.session, principal, audience_id, body)
    _audit(uow, principal, "audience.update", audience)
    return saved_audience_out(audience)


@router.delete("/{audience_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_saved_audience(uow: UowDep, principal: Writer, audience_id: RowId) -> Response:
    audience = await saved.delete_saved_audience(uow.session, principal, audience_id)
    _audit(uow, principal, "audience.delete", audience)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

"""Notices and their updates."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, status
from pydantic import BaseModel

from admin.api.answers import notice_answer
from admin.api.pages import CursorParam, LimitParam, Page, page_of
from admin.deps import SettingsDep, UowDep, locale_of, requires
from admin.idempotency import idempotent
from broadcast.accounts.permissions import Permission
from broadcast.accounts.service import Principal
from broadcast.core.validation import RowId
from broadcast.notices import service
from broadcast.notices.catalogue import catalogue_of
from broadcast.notices.schemas import (
    NoticeEdit,
    NoticeIn,
    NoticeOut,
    StatusIn,
    UpdateIn,
    UpdateOut,
    update_out,
)

router = APIRouter(prefix="/notices", tags=["notices"])

Reader = Annotated[Principal, requires(Permission.notices_read)]
Writer = Annotated[Principal, requires(Permission.notices_write)]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=NoticeOut)
@idempotent
async def create_notice(
    uow: UowDep, principal: Writer, settings: SettingsDep, notice: NoticeIn
) -> NoticeOut:
    created = await service.create_notice(uow.session, principal, notice, catalogue_of(settings))
    return await notice_answer(uow.session, created)


class ServiceOut(BaseModel):
    code: str
    label: str


@router.get("/services", response_model=list[ServiceOut])
async def list_services(
    request: Request, principal: Reader, settings: SettingsDep
) -> list[ServiceOut]:
    """The services a notice may name (``services``), labelled in the caller's language."""
    catalogue = catalogue_of(settings)
    locale = locale_of(request)
    return [ServiceOut(code=code, label=catalogue.label(code, locale)) for code in catalogue.labels]


@router.get("", response_model=Page[NoticeOut])
async def list_notices(
    uow: UowDep, principal: Reader, cursor: CursorParam = 0, limit: LimitParam = 50
) -> Page[NoticeOut]:
    notices = await service.list_notices(uow.session, principal, after=cursor, limit=limit)
    items = [await notice_answer(uow.session, n) for n in notices]
    return page_of(items, [n.id for n in notices], limit)


@router.get("/{notice_id}", response_model=NoticeOut)
async def read_notice(uow: UowDep, principal: Reader, notice_id: RowId) -> NoticeOut:
    notice = await service.get_notice(uow.session, principal, notice_id)
    return await notice_answer(uow.session, notice)


@router.post("/{notice_id}/updates", status_code=status.HTTP_201_CREATED, response_model=UpdateOut)
@idempotent
async def add_update(
    uow: UowDep, principal: Writer, settings: SettingsDep, notice_id: RowId, update: UpdateIn
) -> UpdateOut:
    notice = await service.get_notice(uow.session, principal, notice_id)
    created = await service.add_update(
        uow.session, principal, notice, update, catalogue_of(settings)
    )
    return update_out(created)


@router.patch("/{notice_id}", response_model=NoticeOut)
async def edit_notice(
    uow: UowDep, principal: Writer, settings: SettingsDep, notice_id: RowId, body: NoticeEdit
) -> NoticeOut:
    """Publish (``public``) or withdraw, the services concerned, the next update's time."""
    notice = await service.get_notice(uow.session, principal, notice_id)
    await service.edit_notice(uow.session, principal, notice, body, catalogue_of(settings))
    return await notice_answer(uow.session, notice)


@router.post("/{notice_id}/status", response_model=NoticeOut)
async def change_status(
    uow: UowDep, principal: Writer, notice_id: RowId, body: StatusIn
) -> NoticeOut:
    notice = await service.get_notice(uow.session, principal, notice_id)
    await service.change_status(uow.session, principal, notice, body.status)
    return await notice_answer(uow.session, notice)

"""Ready French notices: the national library beside the académie's own, a rendering preview,
a notice started from one, and an académie's templates written by its officers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from sqlalchemy.ext.asyncio import AsyncSession

from admin.api.answers import notice_answer
from admin.deps import UowDep, locale_of, requires
from admin.idempotency import idempotent
from broadcast.accounts.permissions import Permission
from broadcast.accounts.service import Principal
from broadcast.core.validation import RowId
from broadcast.directory.models import Organisation
from broadcast.directory.service import get_organisation
from broadcast.notices import service, templates
from broadcast.notices.schemas import (
    AcademieTemplateIn,
    FromTemplateIn,
    Locale,
    NoticeOut,
    NoticeTemplateOut,
    RenderedNoticeOut,
    RenderIn,
    template_out,
)

router = APIRouter(tags=["notices"])

Reader = Annotated[Principal, requires(Permission.notices_read)]
Writer = Annotated[Principal, requires(Permission.notices_write)]


def _locale(request: Request) -> Locale:
    return "en" if locale_of(request) == "en" else "fr"


async def _where(
    session: AsyncSession, principal: Principal, organisation_id: int | None
) -> Organisation:
    """The organisation templates are used in: the one named (in scope), else the caller's."""
    return await get_organisation(session, principal, organisation_id or principal.organisation_id)


@router.get("/notice-templates", response_model=list[NoticeTemplateOut])
async def list_templates(
    uow: UowDep,
    principal: Reader,
    request: Request,
    organisation_id: Annotated[RowId | None, Query()] = None,
) -> list[NoticeTemplateOut]:
    """The national templates, then those of the académie the organisation (by default the
    caller's) is in, with the placeholders each asks for, labelled in the caller's language."""
    where = await _where(uow.session, principal, organisation_id)
    found = await templates.templates_for(uow.session, where)
    return [template_out(template, _locale(request)) for template in found]


@router.post(
    "/notice-templates", status_code=status.HTTP_201_CREATED, response_model=NoticeTemplateOut
)
async def save_academie_template(
    uow: UowDep, principal: Writer, request: Request, body: AcademieTemplateIn
) -> NoticeTemplateOut:
    """An académie's own template, seen by every school under it; its key again replaces it."""
    saved = await templates.save_academie_template(uow.session, principal, body)
    return template_out(saved, _locale(request))


@router.post("/notice-templates/{key}/render", response_model=RenderedNoticeOut)
async def render_template(
    uow: UowDep, principal: Reader, key: str, body: RenderIn
) -> RenderedNoticeOut:
    """The title and message the values give, to check before creating the notice."""
    where = await _where(uow.session, principal, body.organisation_id)
    template = await templates.find_template(uow.session, key, where)
    rendered = templates.render(template, body.values, body.locale)
    return RenderedNoticeOut.model_validate(rendered)


@router.post(
    "/notices/from-template", status_code=status.HTTP_201_CREATED, response_model=NoticeOut
)
@idempotent
async def create_notice_from_template(
    uow: UowDep, principal: Writer, body: FromTemplateIn
) -> NoticeOut:
    """A notice in one call: the template rendered with the values, its suggested status."""
    where = await _where(uow.session, principal, body.organisation_id)
    template = await templates.find_template(uow.session, body.template, where)
    created = await service.create_notice(
        uow.session, principal, templates.notice_from_template(template, body)
    )
    return await notice_answer(uow.session, created)

"""Ready French notices: the library, a rendering preview, and a notice started from one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, status

from admin.api.answers import notice_answer
from admin.deps import UowDep, locale_of, requires
from admin.idempotency import idempotent
from broadcast.accounts.permissions import Permission
from broadcast.accounts.service import Principal
from broadcast.notices import service, templates
from broadcast.notices.schemas import (
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


@router.get("/notice-templates", response_model=list[NoticeTemplateOut])
async def list_templates(principal: Reader, request: Request) -> list[NoticeTemplateOut]:
    """Every template with the placeholders it asks for, labelled in the caller's language."""
    locale: Locale = "en" if locale_of(request) == "en" else "fr"
    return [template_out(template, locale) for template in templates.LIBRARY]


@router.post("/notice-templates/{key}/render", response_model=RenderedNoticeOut)
async def render_template(principal: Reader, key: str, body: RenderIn) -> RenderedNoticeOut:
    """The title and message the values give, to check before creating the notice."""
    rendered = templates.render(templates.get_template(key), body.values, body.locale)
    return RenderedNoticeOut.model_validate(rendered)


@router.post(
    "/notices/from-template", status_code=status.HTTP_201_CREATED, response_model=NoticeOut
)
@idempotent
async def create_notice_from_template(
    uow: UowDep, principal: Writer, body: FromTemplateIn
) -> NoticeOut:
    """A notice in one call: the template rendered with the values, its suggested status."""
    created = await service.create_notice(
        uow.session, principal, templates.notice_from_template(body)
    )
    return await notice_answer(uow.session, created)

"""Rédiger, first step: the notice, from a template with the school prefilled, as an update of
an open incident, or as free text. Each form posts, writes the notice and its draft broadcast
(:mod:`broadcast.broadcasts.compose`), and leads to the audience step; from « Prévenir les
familles » (``rapide``), straight to « Vérifier »."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from admin.console.deps import ConsoleUser, console_requires
from admin.console.forms import discard, form_error, form_values
from admin.console.web import page, redirect
from admin.deps import SettingsDep, UowDep
from broadcast.accounts.permissions import Permission
from broadcast.broadcasts import compose
from broadcast.broadcasts.models import Broadcast
from broadcast.core.errors import DomainError
from broadcast.core.validation import RowId
from broadcast.directory.service import organisations_in_scope
from broadcast.notices.catalogue import catalogue_of
from broadcast.notices.models import NoticeStatus
from broadcast.notices.schemas import FromTemplateIn, NoticeIn, UpdateIn, template_out
from broadcast.notices.service import get_notice
from broadcast.notices.templates import NoticeTemplate, find_template, templates_for

router = APIRouter(prefix="/console/rediger", include_in_schema=False)
Sender = Annotated[ConsoleUser, console_requires(Permission.broadcasts_send)]
_PLACEHOLDER = re.compile(r"\{\{ *\w+ *\}\}")
STATUSES = [status.value for status in NoticeStatus]


def choice_label(template: NoticeTemplate, locale: str) -> str:
    """A template's title as a choice: « ENT indisponible », without the school it names."""
    title = template.title["en" if locale == "en" else "fr"]
    title = title.replace("{{ etablissement }} : ", "").replace("{{ etablissement }}: ", "")
    return _PLACEHOLDER.sub("…", title)


def after_notice(broadcast: Broadcast, fast: bool) -> Response:
    step = "verifier" if fast else "audience"
    return redirect(f"/console/rediger/{broadcast.id}/{step}")


async def _template_choices(
    uow: UowDep, user: ConsoleUser, *, exercises: bool = True
) -> list[tuple[str, str]]:
    """The national library, then the templates of the operator's académie (for an operator
    anchored in or under one), as (key, label)."""
    found = await templates_for(uow.session, user.organisation)
    return [(t.key, choice_label(t, user.locale)) for t in found if exercises or not t.exercise]


@router.get("")
async def start(request: Request, uow: UowDep, user: Sender) -> Response:
    incidents = await compose.open_incidents(uow.session, user.principal)
    return page(
        request,
        "compose_start.html",
        locale=user.locale,
        user=user,
        templates=await _template_choices(uow, user),
        incidents=incidents,
    )


@router.get("/familles")
async def families(request: Request, uow: UowDep, user: Sender) -> Response:
    """« Prévenir les familles »: the templates, each leading straight to « Vérifier »."""
    templates = await _template_choices(uow, user, exercises=False)
    return page(
        request, "compose_families.html", locale=user.locale, user=user, templates=templates
    )


async def _template_page(
    request: Request,
    uow: UowDep,
    user: ConsoleUser,
    key: str,
    *,
    values: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    template = await find_template(uow.session, key, user.organisation)
    schools = await organisations_in_scope(uow.session, user.principal)
    prefilled = {"etablissement": user.organisation.name}
    return page(
        request,
        "compose_template.html",
        locale=user.locale,
        status_code=status_code,
        user=user,
        template=template_out(template, "en" if user.locale == "en" else "fr"),
        label=choice_label(template, user.locale),
        organisations=schools,
        values=values if values is not None else prefilled,
        error=error,
        **context,
    )


@router.get("/modele/{key}")
async def template_form(
    request: Request, uow: UowDep, user: Sender, key: str, rapide: bool = False
) -> Response:
    return await _template_page(request, uow, user, key, fast=rapide, chosen=user.organisation.id)


@router.post("/modele/{key}")
async def from_template(
    request: Request, uow: UowDep, user: Sender, settings: SettingsDep, key: str
) -> Response:
    form = await form_values(request)
    template = await find_template(uow.session, key, user.organisation)
    values = {p.name: form.get(f"v_{p.name}", "") for p in template.placeholders}
    fast = form.get("rapide") == "1"
    chosen = form.get("organisation_id", "")
    try:
        data = FromTemplateIn(
            organisation_id=chosen or user.organisation.id or 0,
            template=key,
            values={name: value for name, value in values.items() if value.strip()},
        )
        draft = await compose.draft_from_template(
            uow.session, user.principal, data, catalogue_of(settings)
        )
    except (ValidationError, DomainError) as error:
        await discard(uow, user)
        message, status_code = form_error(error, user.locale)
        return await _template_page(
            request,
            uow,
            user,
            key,
            values=values,
            error=message,
            status_code=status_code,
            fast=fast,
            chosen=int(chosen) if chosen.isdigit() else user.organisation.id,
        )
    return after_notice(draft, fast)


async def _text_page(
    request: Request,
    uow: UowDep,
    user: ConsoleUser,
    *,
    values: dict[str, str],
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return page(
        request,
        "compose_text.html",
        locale=user.locale,
        status_code=status_code,
        user=user,
        organisations=await organisations_in_scope(uow.session, user.principal),
        statuses=STATUSES,
        values=values,
        error=error,
    )


@router.get("/texte")
async def text_form(request: Request, uow: UowDep, user: Sender) -> Response:
    values = {"organisation_id": str(user.organisation.id), "status": NoticeStatus.investigating}
    return await _text_page(request, uow, user, values=values)


@router.post("/texte")
async def from_text(request: Request, uow: UowDep, user: Sender, settings: SettingsDep) -> Response:
    form = await form_values(request)
    try:
        data = NoticeIn(
            organisation_id=form.get("organisation_id") or 0,
            title=form.get("title", ""),
            message=form.get("message", ""),
            status=form.get("status") or NoticeStatus.investigating,
            public=form.get("public") == "1",
        )
        draft = await compose.draft_from_text(
            uow.session, user.principal, data, catalogue_of(settings)
        )
    except (ValidationError, DomainError) as error:
        await discard(uow, user)
        message, status_code = form_error(error, user.locale)
        return await _text_page(
            request, uow, user, values=form, error=message, status_code=status_code
        )
    return after_notice(draft, False)


async def _update_page(
    request: Request,
    uow: UowDep,
    user: ConsoleUser,
    notice_id: int,
    *,
    values: dict[str, str],
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    notice = await get_notice(uow.session, user.principal, notice_id)
    return page(
        request,
        "compose_update.html",
        locale=user.locale,
        status_code=status_code,
        user=user,
        notice=notice,
        statuses=STATUSES,
        values=values,
        error=error,
    )


@router.get("/incident/{notice_id}")
async def update_form(request: Request, uow: UowDep, user: Sender, notice_id: RowId) -> Response:
    notice = await get_notice(uow.session, user.principal, notice_id)
    values = {"status": notice.status}
    return await _update_page(request, uow, user, notice_id, values=values)


@router.post("/incident/{notice_id}")
async def from_update(
    request: Request, uow: UowDep, user: Sender, settings: SettingsDep, notice_id: RowId
) -> Response:
    form = await form_values(request)
    try:
        data = UpdateIn(status=form.get("status", ""), message=form.get("message", ""))
        draft = await compose.draft_from_update(
            uow.session, user.principal, notice_id, data, catalogue_of(settings)
        )
    except (ValidationError, DomainError) as error:
        await discard(uow, user)
        message, status_code = form_error(error, user.locale)
        return await _update_page(
            request, uow, user, notice_id, values=form, error=message, status_code=status_code
        )
    return after_notice(draft, False)

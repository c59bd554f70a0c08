"""Contacts: the search within scope (masked addresses, in pages), a contact's page, and the
opposition list (suppressions): its entries with their reasons, one added, one lifted after a
confirmation. The rules are in :mod:`broadcast.directory.lookup`."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from admin.console.check import ROLE_LABELS
from admin.console.deps import ConsoleUser, console_requires
from admin.console.forms import discard
from admin.console.web import page, redirect
from admin.deps import UowDep
from broadcast.accounts.permissions import Permission
from broadcast.core.errors import InvalidInput
from broadcast.core.masking import mask_address
from broadcast.core.validation import RowId
from broadcast.directory import lookup

router = APIRouter(prefix="/console", include_in_schema=False)
Reader = Annotated[ConsoleUser, console_requires(Permission.contacts_read)]
Writer = Annotated[ConsoleUser, console_requires(Permission.contacts_write)]
Field = Annotated[str, Query(max_length=100)]
PAGE = 50
CHANNEL_LABELS = {"email": "E-mail", "sms": "SMS", "push": "Notification"}


def _role_label(role: str) -> str:
    return ROLE_LABELS.get(role, "Abonné aux notifications" if role == "follower" else role)


@router.get("/contacts")
async def contacts(
    request: Request,
    uow: UowDep,
    user: Reader,
    name: Annotated[str, Query(alias="nom", max_length=100)] = "",
    school: Annotated[str, Query(alias="etablissement", max_length=100)] = "",
    role: Annotated[str, Query(alias="role", max_length=16)] = "",
    level: Annotated[str, Query(alias="niveau", max_length=32)] = "",
    division: Annotated[str, Query(alias="classe", max_length=32)] = "",
    after: Annotated[RowId, Query(alias="apres")] = 0,
) -> Response:
    typed = {
        "nom": name,
        "etablissement": school,
        "role": role,
        "niveau": level,
        "classe": division,
    }
    query = lookup.ContactQuery(name, school, role, level, division)
    error, lines = None, []
    try:
        lines = await lookup.search_contacts(
            uow.session, user.principal, query, after=after, limit=PAGE
        )
    except InvalidInput as invalid:
        error = invalid.message(user.locale)
    kept = urlencode({k: v for k, v in typed.items() if v})
    more = f"?{kept}{'&' if kept else ''}apres={lines[-1].contact.id}" if len(lines) == PAGE else ""
    return page(
        request,
        "contacts.html",
        locale=user.locale,
        user=user,
        lines=lines,
        typed=typed,
        roles=lookup.SEARCHED_ROLES,
        role_label=_role_label,
        error=error,
        more=more,
        first_page=after == 0,
        can_import=user.principal.can(Permission.contacts_import),
        status_code=422 if error else 200,
    )


@router.get("/contacts/{contact_id}")
async def contact_page(request: Request, uow: UowDep, user: Reader, contact_id: RowId) -> Response:
    card = await lookup.contact_card(uow.session, user.principal, contact_id, user.locale)
    return page(
        request,
        "contact.html",
        locale=user.locale,
        user=user,
        card=card,
        role_label=_role_label,
        channel_label=lambda name: CHANNEL_LABELS.get(name, name),
        can_write=user.principal.can(Permission.contacts_write),
    )


# -- the opposition list -------------------------------------------------------------------


@router.get("/opposition")
async def opposition(
    request: Request,
    uow: UowDep,
    user: Reader,
    before: Annotated[RowId, Query(alias="avant")] = 0,
) -> Response:
    return await _opposition_page(request, uow, user, before=before)


async def _opposition_page(
    request: Request,
    uow: UowDep,
    user: ConsoleUser,
    *,
    before: int = 0,
    error: str | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    rows = await lookup.list_suppressions(uow.session, user.principal, before=before, limit=PAGE)
    return page(
        request,
        "opposition.html",
        locale=user.locale,
        user=user,
        rows=rows,
        masked=mask_address,
        reason_label=lambda code: lookup.reason_label(code, user.locale),
        channel_label=lambda name: CHANNEL_LABELS.get(name, name),
        older=f"?avant={rows[-1].id}" if len(rows) == PAGE else "",
        can_write=user.principal.can(Permission.contacts_write),
        done=request.query_params.get("fait", ""),
        error=error,
        typed=typed or {},
        status_code=status_code,
    )


@router.post("/opposition")
async def add_opposition(
    request: Request,
    uow: UowDep,
    user: Writer,
    address: Annotated[str, Form(alias="adresse", max_length=320)] = "",
    reason: Annotated[str, Form(alias="motif", max_length=200)] = "",
) -> Response:
    try:
        await lookup.add_suppression(uow.session, user.principal, address, reason)
    except InvalidInput as invalid:
        await discard(uow, user)
        return await _opposition_page(
            request,
            uow,
            user,
            error=invalid.message(user.locale),
            typed={"adresse": address, "motif": reason},
            status_code=422,
        )
    return redirect("/console/opposition?fait=ajoutee")


@router.get("/opposition/{suppression_id}/lever")
async def confirm_lift(
    request: Request, uow: UowDep, user: Writer, suppression_id: RowId
) -> Response:
    row = await lookup.get_suppression(uow.session, user.principal, suppression_id)
    return page(
        request,
        "opposition_lift.html",
        locale=user.locale,
        user=user,
        row=row,
        address=mask_address(row.channel, row.address),
        reason=lookup.reason_label(row.reason, user.locale),
        channel_label=lambda name: CHANNEL_LABELS.get(name, name),
    )


@router.post("/opposition/{suppression_id}/lever")
async def lift(request: Request, uow: UowDep, user: Writer, suppression_id: RowId) -> Response:
    row = await lookup.get_suppression(uow.session, user.principal, suppression_id)
    await lookup.lift_suppression(uow.session, user.principal, row)
    return redirect("/console/opposition?fait=levee")

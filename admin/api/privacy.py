"""Personal data (RULES R3, R4, A7): per-person access export and erasure, CSV export of
contacts. Every call is audited. Addresses travel in POST bodies, never in URLs (nor logs).

Mounted before the directory's router: ``/contacts/export.csv`` must win over
``/contacts/{contact_id}``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from admin.deps import UowDep, requires
from broadcast.accounts.permissions import Permission
from broadcast.accounts.service import Principal
from broadcast.core.validation import RowId
from broadcast.directory import privacy
from broadcast.directory.privacy import ErasureReport, PersonExport
from broadcast.directory.schemas import PersonQuery

router = APIRouter(tags=["personal data"])

Exporter = Annotated[Principal, requires(Permission.contacts_export)]
Eraser = Annotated[Principal, requires(Permission.contacts_erase)]


@router.get("/contacts/export.csv", response_class=Response)
async def export_contacts_csv(
    uow: UowDep, principal: Exporter, organisation_id: Annotated[RowId | None, Query()] = None
) -> Response:
    """The contacts within scope (or of one organisation's subtree), cells guarded against
    spreadsheet formulas."""
    text, _ = await privacy.contacts_csv(uow.session, principal, organisation_id)
    return Response(
        content=text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="contacts.csv"'},
    )


@router.get("/contacts/{contact_id}/export", response_model=PersonExport)
async def export_contact(uow: UowDep, principal: Exporter, contact_id: RowId) -> PersonExport:
    """Everything held on the person of this contact: contacts, addresses, suppressions,
    deliveries."""
    query = PersonQuery(contact_id=contact_id)
    return await privacy.access_export(uow.session, principal, query)


@router.post("/persons/export", response_model=PersonExport)
async def export_person(uow: UowDep, principal: Exporter, body: PersonQuery) -> PersonExport:
    """The same, looked up by contact id, email address or mobile number within scope."""
    return await privacy.access_export(uow.session, principal, body)


@router.post("/persons/erase", response_model=ErasureReport)
async def erase_person(uow: UowDep, principal: Eraser, body: PersonQuery) -> ErasureReport:
    """Delete the person's contacts and addresses and mask his deliveries; his suppressions
    stay so that a STOP keeps working."""
    return await privacy.erasure(uow.session, principal, body)

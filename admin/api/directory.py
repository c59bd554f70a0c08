"""Organisations and contacts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, status

from admin.api.pages import CursorParam, LimitParam, Page, page_of
from admin.deps import UowDep, requires
from admin.idempotency import idempotent
from broadcast.accounts.permissions import Permission
from broadcast.accounts.service import Principal, audit
from broadcast.core.validation import RowId
from broadcast.directory import service
from broadcast.directory.schemas import (
    BulkResult,
    ContactIn,
    ContactOut,
    OrganisationOut,
    contact_out,
    organisation_out,
)
from broadcast.directory.schemas import (
    organisation_tree as tree_of,
)

router = APIRouter(tags=["directory"])

Reader = Annotated[Principal, requires(Permission.organisations_read)]
ContactReader = Annotated[Principal, requires(Permission.contacts_read)]
ContactWriter = Annotated[Principal, requires(Permission.contacts_write)]


@router.get("/organisations", response_model=list[OrganisationOut])
async def organisation_tree(uow: UowDep, principal: Reader) -> list[OrganisationOut]:
    return tree_of(await service.organisations_in_scope(uow.session, principal))


@router.get("/organisations/{organisation_id}", response_model=OrganisationOut)
async def read_organisation(
    uow: UowDep, principal: Reader, organisation_id: RowId
) -> OrganisationOut:
    organisation = await service.get_organisation(uow.session, principal, organisation_id)
    return organisation_out(organisation)


@router.post("/contacts", status_code=status.HTTP_201_CREATED, response_model=ContactOut)
@idempotent
async def create_contact(uow: UowDep, principal: ContactWriter, contact: ContactIn) -> ContactOut:
    [contact_id] = await service.create_contacts(uow.session, principal, [contact.model_dump()])
    audit(
        uow.session,
        principal,
        "contacts.create",
        organisation_id=contact.organisation_id,
        object_type="contact",
        object_id=contact_id,
    )
    return contact_out(await service.get_contact(uow.session, principal, contact_id))


@router.post("/contacts/bulk", status_code=status.HTTP_201_CREATED, response_model=BulkResult)
@idempotent
async def create_contacts(
    uow: UowDep,
    principal: ContactWriter,
    contacts: Annotated[
        list[dict[str, Any]], Body(embed=True, max_length=service.MAX_BULK_CONTACTS)
    ],
) -> BulkResult:
    """All or nothing: one invalid row refuses the call, with every row's errors reported."""
    ids = await service.create_contacts(uow.session, principal, contacts)
    audit(
        uow.session,
        principal,
        "contacts.create",
        organisation_id=principal.organisation_id,
        details={"count": len(ids)},
    )
    return BulkResult(created=len(ids), ids=ids)


@router.get("/contacts", response_model=Page[ContactOut])
async def list_contacts(
    uow: UowDep,
    principal: ContactReader,
    organisation_id: Annotated[RowId | None, Query()] = None,
    cursor: CursorParam = 0,
    limit: LimitParam = 100,
) -> Page[ContactOut]:
    contacts = await service.list_contacts(
        uow.session, principal, organisation_id=organisation_id, after=cursor, limit=limit
    )
    audit(
        uow.session,
        principal,
        "contacts.read",
        organisation_id=organisation_id or principal.organisation_id,  # the scope read (R4)
        details={"rows": len(contacts)},
    )
    return page_of([contact_out(c) for c in contacts], [c.contact.id for c in contacts], limit)


@router.get("/contacts/{contact_id}", response_model=ContactOut)
async def read_contact(uow: UowDep, principal: ContactReader, contact_id: RowId) -> ContactOut:
    found = await service.get_contact(uow.session, principal, contact_id)
    audit(
        uow.session,
        principal,
        "contacts.read",
        organisation_id=found.contact.organisation_id,
        object_type="contact",
        object_id=contact_id,
        details={"rows": 1},
    )
    return contact_out(found)

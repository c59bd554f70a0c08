"""Organisations, contacts and suppressions. Services take a session and never commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.accounts.scoped import (
    covers,
    get_within_scope,
    in_scope,
    organisation_within_scope,
    select_within,
    subtree_within_scope,
)
from broadcast.accounts.service import Principal
from broadcast.channels.base import ChannelName
from broadcast.core.errors import InvalidInput
from broadcast.core.sqlutil import insert_ignore
from broadcast.core.validation import describe_errors
from broadcast.directory.models import (
    Contact,
    ContactPoint,
    Organisation,
    OrganisationKind,
    Suppression,
)
from broadcast.directory.schemas import ContactIn, RowError
from broadcast.directory.uai import is_valid_uai

MAX_BULK_CONTACTS = 10_000


@dataclass(frozen=True, slots=True)
class ContactWithAddresses:
    """A contact with its first email address and mobile number, as a person reads it."""

    contact: Contact
    email: str | None
    mobile: str | None

    def value(self, name: str) -> object:
        """A column of the contact, or its email or mobile."""
        return getattr(self if name in ("email", "mobile") else self.contact, name)


async def create_organisation(
    session: AsyncSession,
    *,
    kind: OrganisationKind,
    code: str,
    name: str,
    parent: Organisation | None = None,
    school_type: str | None = None,
) -> Organisation:
    if kind == OrganisationKind.etablissement and not is_valid_uai(code):
        raise InvalidInput(f"UAI invalide : {code}.", f"Invalid UAI: {code}.")
    organisation = Organisation(
        kind=kind,
        code=code,
        name=name,
        school_type=school_type,
        parent_id=parent.id if parent else None,
    )
    session.add(organisation)
    await session.flush()
    organisation.path = f"{parent.path if parent else '/'}{organisation.id}/"
    await session.flush()
    return organisation


async def get_organisation(
    session: AsyncSession, principal: Principal, organisation_id: int
) -> Organisation:
    return await organisation_within_scope(session, principal, organisation_id)


async def organisations_in_scope(session: AsyncSession, principal: Principal) -> list[Organisation]:
    """The organisations within the principal's scope, each after its parent (path order)."""
    rows = await session.execute(
        select(Organisation).where(in_scope(principal)).order_by(col(Organisation.path))
    )
    return list(rows.scalars())


async def _schools_in_scope(
    session: AsyncSession, principal: Principal, ids: set[int]
) -> dict[int, Organisation]:
    rows = (
        await session.execute(select(Organisation).where(col(Organisation.id).in_(ids)))
    ).scalars()
    return {
        org.id: org
        for org in rows
        if org.id is not None
        and covers(principal.scope_path, org.path)
        and org.kind == OrganisationKind.etablissement
    }


def _validate_rows(raw_rows: Sequence[Any]) -> tuple[list[ContactIn], list[RowError]]:
    valid: list[ContactIn] = []
    errors: list[RowError] = []
    for index, raw in enumerate(raw_rows, start=1):
        try:
            valid.append(ContactIn.model_validate(raw))
        except ValidationError as exc:
            errors.extend(RowError(row=index, **e) for e in describe_errors(exc.errors()))
    return valid, errors


def _scope_errors(rows: Sequence[ContactIn], schools: dict[int, Organisation]) -> list[RowError]:
    return [
        RowError(
            row=index,
            field="organisation_id",
            message="établissement introuvable ou hors de votre périmètre",
        )
        for index, row in enumerate(rows, start=1)
        if row.organisation_id not in schools
    ]


async def create_contacts(
    session: AsyncSession, principal: Principal, raw_rows: Sequence[Any]
) -> list[int]:
    """Create every contact or none: an error anywhere raises with the report of every row."""
    if len(raw_rows) > MAX_BULK_CONTACTS:
        raise InvalidInput(
            f"Au plus {MAX_BULK_CONTACTS} contacts par appel.",
            f"At most {MAX_BULK_CONTACTS} contacts per call.",
        )
    rows, errors = _validate_rows(raw_rows)
    if not errors:
        schools = await _schools_in_scope(session, principal, {r.organisation_id for r in rows})
        errors = _scope_errors(rows, schools)
    if errors:
        raise InvalidInput(
            f"{len({e.row for e in errors})} ligne(s) invalide(s) : aucun contact n'a été créé.",
            f"{len({e.row for e in errors})} invalid row(s): no contact was created.",
            details=[e.model_dump() for e in errors],
        )
    return await insert_contacts(session, rows)


async def insert_contacts(session: AsyncSession, rows: Sequence[ContactIn]) -> list[int]:
    if not rows:
        return []
    fields = ContactIn.model_fields.keys() - {"email", "mobile"}
    result = await session.execute(
        insert(Contact).returning(col(Contact.id), sort_by_parameter_order=True),
        [row.model_dump(include=fields) for row in rows],
    )
    ids = [int(new_id or 0) for (new_id,) in result.all()]
    points = [
        {"contact_id": contact_id, "channel": channel, "address": address}
        for contact_id, row in zip(ids, rows, strict=True)
        for channel, address in ((ChannelName.email, row.email), (ChannelName.sms, row.mobile))
        if address
    ]
    if points:
        await session.execute(insert(ContactPoint), points)
    return ids


async def get_contact(
    session: AsyncSession, principal: Principal, contact_id: int
) -> ContactWithAddresses:
    contact = await get_within_scope(session, principal, Contact, contact_id)
    return (await _with_points(session, [contact]))[0]


async def list_contacts(
    session: AsyncSession,
    principal: Principal,
    *,
    organisation_id: int | None = None,
    after: int = 0,
    limit: int = 100,
) -> list[ContactWithAddresses]:
    """Contacts in scope (of one subtree if asked), by id after the cursor ``after``."""
    subtree = await subtree_within_scope(session, principal, organisation_id)
    contacts = (
        (
            await session.execute(
                select_within(Contact, subtree)
                .where(col(Contact.id) > after)
                .order_by(col(Contact.id))
                .limit(limit)
            )
        )
        .scalars()
        .all()
    )
    return await _with_points(session, contacts)


async def _with_points(
    session: AsyncSession, contacts: Sequence[Contact]
) -> list[ContactWithAddresses]:
    ids = [c.id for c in contacts]
    points = (
        await session.execute(
            select(
                col(ContactPoint.contact_id), col(ContactPoint.channel), col(ContactPoint.address)
            )
            .where(col(ContactPoint.contact_id).in_(ids))
            .order_by(col(ContactPoint.id))
        )
    ).all()
    by_contact: dict[tuple[int, str], str] = {}
    for contact_id, channel, address in points:
        by_contact.setdefault((contact_id, channel), address)
    return [
        ContactWithAddresses(
            contact,
            email=by_contact.get((contact.id, ChannelName.email)) if contact.id else None,
            mobile=by_contact.get((contact.id, ChannelName.sms)) if contact.id else None,
        )
        for contact in contacts
    ]


async def suppress(
    session: AsyncSession, channel: str, address: str, reason: str, detail: str | None = None
) -> None:
    """Record that ``address`` must not be written to on ``channel``; idempotent."""
    await suppress_many(session, [(channel, address)], reason, detail)


async def suppress_many(
    session: AsyncSession,
    addresses: Sequence[tuple[str, str]],
    reason: str,
    detail: str | None = None,
) -> None:
    if addresses:
        rows = [
            {"channel": channel, "address": address, "reason": reason, "detail": detail}
            for channel, address in addresses
        ]
        await insert_ignore(session, Suppression, rows)


async def unsuppress(session: AsyncSession, channel: str, address: str) -> bool:
    """Lift every suppression of ``address`` on ``channel`` (e.g. an SMS START); idempotent."""
    result = await session.execute(
        delete(Suppression).where(
            col(Suppression.channel) == channel, col(Suppression.address) == address
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def is_suppressed(session: AsyncSession, channel: str, address: str) -> bool:
    found = await session.execute(
        select(col(Suppression.id)).where(
            col(Suppression.channel) == channel, col(Suppression.address) == address
        )
    )
    return found.first() is not None

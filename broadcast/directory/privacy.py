"""Personal data by the rules (RULES R2-R4): retention purge, access export, erasure, CSV export.

Retention (R2):

- A contact who left (``left_at`` set) is kept until 30 November following the end of the school
  year he left in, a school year ending on 31 August: leaving on 15 June 2025 or on 31 August
  2025 means deletion from 1 December 2025; leaving on 10 September 2025 (school year 2025-26)
  means deletion from 1 December 2026. Dates are taken in UTC. ``contact_retention_days``, when
  set, replaces the rule with "that many days after ``left_at``". The contact goes with its
  contact points and push subscriptions; suppressions stay (they are about addresses, not
  contacts, and must outlive re-imports); his deliveries lose their link to him.
- A delivery row older than ``delivery_address_retention_days`` (365) keeps a masked address:
  ``masked:<delivery id>:<masked form>`` (the id keeps the ``(broadcast, channel, address)``
  constraint unique) and loses its contact link.

Access and erasure (R3), by contact id or by an email or mobile number looked up within the
caller's scope (a command line sees everything):

- the export is everything held on the person: contact rows with their addresses and push
  subscriptions, suppressions of those addresses, deliveries to them (in scope);
- erasure deletes the contacts, their contact points and push subscriptions, and masks their
  deliveries (and the deliveries to an address no other contact holds any more). It keeps the
  suppressions: a STOP or an unsubscribe is an objection (RGPD art. 21) that can only be honoured
  by remembering the address it came from, so keeping it is necessary to comply with the
  person's own request (art. 17.3.b); a suppression holds nothing but the channel, the address
  and the reason.

Every read and export of contact data is audited (R4) by the caller, who owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, bindparam, delete, false, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.accounts.scoped import in_subtree, join_organisation, select_within
from broadcast.accounts.service import Principal, audit
from broadcast.broadcasts.models import Broadcast
from broadcast.core.csvsafe import csv_text
from broadcast.core.errors import NotFound
from broadcast.core.masking import mask_address
from broadcast.core.sqlutil import row_id
from broadcast.core.timeutil import as_utc, utcnow
from broadcast.deliveries.models import Delivery
from broadcast.directory.models import (
    Contact,
    ContactPoint,
    Organisation,
    PushSubscription,
    Suppression,
)
from broadcast.directory.schemas import PersonQuery
from broadcast.directory.service import list_contacts
from broadcast.settings import Settings

MASKED_PREFIX = "masked:"
MASK_BATCH = 1000
EVERYTHING = "/"  # the scope of a command line: every organisation's path starts with it


# -- retention (R2) -----------------------------------------------------------------------------


def contact_purge_cutoff(now: datetime, retention_days: int | None = None) -> datetime:
    """Contacts who left before the returned instant are due for deletion at ``now``."""
    if retention_days is not None:
        return now - timedelta(days=retention_days)
    year = now.year if now >= datetime(now.year, 12, 1, tzinfo=now.tzinfo) else now.year - 1
    return datetime(year, 9, 1, tzinfo=now.tzinfo)


def delivery_mask_cutoff(now: datetime, retention_days: int = 365) -> datetime:
    return now - timedelta(days=retention_days)


class PurgeReport(BaseModel):
    dry_run: bool
    contacts_left_before: datetime
    deliveries_before: datetime
    contacts: int
    contact_points: int
    deliveries_masked: int


def _left_before(cutoff: datetime) -> Any:
    return select(col(Contact.id)).where(
        col(Contact.left_at).is_not(None), col(Contact.left_at) < cutoff
    )


async def _count(session: AsyncSession, query: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)


async def purge(
    session: AsyncSession,
    *,
    now: datetime,
    contact_retention_days: int | None = None,
    delivery_retention_days: int = 365,
    dry_run: bool = False,
) -> PurgeReport:
    """Delete the contacts who left long enough ago and mask old delivery addresses (R2);
    with ``dry_run``, only count them."""
    contacts_cutoff = contact_purge_cutoff(now, contact_retention_days)
    deliveries_cutoff = delivery_mask_cutoff(now, delivery_retention_days)
    due = _left_before(contacts_cutoff)
    points = select(col(ContactPoint.id)).where(col(ContactPoint.contact_id).in_(due))
    report = PurgeReport(
        dry_run=dry_run,
        contacts_left_before=contacts_cutoff,
        deliveries_before=deliveries_cutoff,
        contacts=await _count(session, due),
        contact_points=await _count(session, points),
        deliveries_masked=0,
    )
    old = col(Delivery.created_at) < deliveries_cutoff
    if dry_run:
        report.deliveries_masked = await _count(session, _unmasked(old))
        return report
    await delete_contacts(session, due)
    report.deliveries_masked = await mask_deliveries(session, old)
    return report


async def delete_contacts(session: AsyncSession, ids: Any) -> None:
    """Delete contacts (a list or a SELECT of ids) with their addresses and subscriptions;
    their deliveries stay, unlinked. Suppressions are not touched."""
    await session.execute(delete(PushSubscription).where(col(PushSubscription.contact_id).in_(ids)))
    await session.execute(delete(ContactPoint).where(col(ContactPoint.contact_id).in_(ids)))
    await session.execute(
        update(Delivery).where(col(Delivery.contact_id).in_(ids)).values(contact_id=None)
    )
    await session.execute(delete(Contact).where(col(Contact.id).in_(ids)))


def masked_delivery_address(delivery_id: int, channel: str, address: str) -> str:
    """Unique per delivery, so the ``(broadcast, channel, address)`` constraint holds."""
    return f"{MASKED_PREFIX}{delivery_id}:{mask_address(channel, address)}"[:320]


def _unmasked(where: ColumnElement[bool]) -> Any:
    return select(col(Delivery.id), col(Delivery.channel), col(Delivery.address)).where(
        where, ~col(Delivery.address).startswith(MASKED_PREFIX)
    )


_deliveries = Delivery.__table__  # type: ignore[attr-defined]
_MASK = (
    update(_deliveries)
    .where(_deliveries.c.id == bindparam("delivery_id"))
    .values(address=bindparam("masked"), contact_id=None)
)


async def mask_deliveries(session: AsyncSession, where: ColumnElement[bool]) -> int:
    """Mask the address of every delivery matching ``where``, in batches walked by id (one
    pass over the table however many batches); unlink its contact."""
    masked, after = 0, 0
    while rows := (await session.execute(_next_unmasked(where, after))).all():
        params = [
            {"delivery_id": i, "masked": masked_delivery_address(i, channel, address)}
            for i, channel, address in rows
        ]
        await session.execute(_MASK, params)
        masked, after = masked + len(rows), rows[-1][0]
    return masked


def _next_unmasked(where: ColumnElement[bool], after: int) -> Any:
    return (
        _unmasked(where)
        .where(col(Delivery.id) > after)
        .order_by(col(Delivery.id))
        .limit(MASK_BATCH)
    )


# -- one person (R3) ----------------------------------------------------------------------------


@dataclass
class Person:
    scope_path: str
    contacts: list[Contact]
    addresses: set[tuple[str, str]]

    @property
    def contact_ids(self) -> list[int]:
        return [c.id for c in self.contacts if c.id is not None]


def _not_found() -> NotFound:
    return NotFound("Personne introuvable dans votre périmètre.", "Person not found.")


async def find_person(
    session: AsyncSession, principal: Principal | None, query: PersonQuery
) -> Person:
    """The person's contacts within scope and every address they hold; 404 when nothing of
    the person lies within the caller's scope."""
    scope = principal.scope_path if principal else EVERYTHING
    contacts = await _contacts_of(session, scope, query)
    addresses = await _addresses_of(session, [c.id for c in contacts if c.id is not None])
    asked = query.address()
    if asked is not None:
        addresses.add(asked)
    person = Person(scope, contacts, addresses)
    if not contacts and not await _count(session, _deliveries_query(person)):
        raise _not_found()
    return person


async def _contacts_of(session: AsyncSession, scope: str, query: PersonQuery) -> list[Contact]:
    found = select_within(Contact, scope)
    if query.contact_id is not None:
        found = found.where(col(Contact.id) == query.contact_id)
    else:
        channel, address = query.address() or ("", "")
        holders = select(col(ContactPoint.contact_id)).where(
            col(ContactPoint.channel) == channel,
            func.lower(col(ContactPoint.address)) == address.lower(),
        )
        found = found.where(col(Contact.id).in_(holders))
    rows = await session.execute(found.order_by(col(Contact.id)))
    return list(rows.scalars())


async def _addresses_of(session: AsyncSession, contact_ids: list[int]) -> set[tuple[str, str]]:
    rows = await session.execute(
        select(col(ContactPoint.channel), col(ContactPoint.address)).where(
            col(ContactPoint.contact_id).in_(contact_ids)
        )
    )
    return {(channel, address) for channel, address in rows.all()}


def _to_addresses(addresses: set[tuple[str, str]], channel: Any, address: Any) -> Any:
    if not addresses:
        return false()
    return or_(*((channel == c) & (address == a) for c, a in sorted(addresses)))


def _broadcasts_within(scope: str) -> Any:
    return join_organisation(select(col(Broadcast.id)), Broadcast).where(in_subtree(scope))


def _to_person(person: Person, addresses: set[tuple[str, str]]) -> ColumnElement[bool]:
    """Deliveries linked to the person's contacts, or sent to ``addresses`` by a broadcast of
    the caller's scope."""
    to_addresses = _to_addresses(addresses, col(Delivery.channel), col(Delivery.address))
    return or_(
        col(Delivery.contact_id).in_(person.contact_ids),
        to_addresses & col(Delivery.broadcast_id).in_(_broadcasts_within(person.scope_path)),
    )


def _deliveries_query(person: Person) -> Any:
    return select(Delivery).where(_to_person(person, person.addresses))


class PersonExport(BaseModel):
    """Everything held on one person (RULES R3)."""

    generated_at: datetime
    contacts: list[dict[str, Any]]
    suppressions: list[dict[str, Any]]
    deliveries: list[dict[str, Any]]

    @property
    def rows(self) -> int:
        return len(self.contacts) + len(self.suppressions) + len(self.deliveries)


async def export_person(
    session: AsyncSession, person: Person, now: datetime, *, suppression_details: bool = False
) -> PersonExport:
    """``suppression_details``: the reason and time of each suppression, for the command line
    only. A suppression is about an address, not a school: an operator who looks up an address
    that another school's family stopped learns only that it does not receive messages."""
    suppressions = await _suppressions_of(session, person.addresses)
    return PersonExport(
        generated_at=now,
        contacts=[await _contact_record(session, c) for c in person.contacts],
        suppressions=suppressions if suppression_details else _blocked(suppressions),
        deliveries=await _deliveries_of(session, person),
    )


NO_MESSAGES = "Cette adresse ne reçoit pas de messages sur ce canal."


def _blocked(suppressions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "channel": s["channel"],
            "address": s["address"],
            "receives_messages": False,
            "message": NO_MESSAGES,
        }
        for s in suppressions
    ]


def _dump(row: Any, exclude: Sequence[str] = ()) -> dict[str, Any]:
    return {
        key: as_utc(value) if isinstance(value, datetime) else value
        for key, value in row.model_dump(exclude=set(exclude)).items()
    }


async def _contact_record(session: AsyncSession, contact: Contact) -> dict[str, Any]:
    organisation = await session.get(Organisation, contact.organisation_id)
    points = await session.execute(
        select(ContactPoint).where(col(ContactPoint.contact_id) == contact.id)
    )
    subscriptions = await session.execute(
        select(PushSubscription).where(col(PushSubscription.contact_id) == contact.id)
    )
    return {
        **_dump(contact),
        "organisation": {
            "code": organisation.code if organisation else None,
            "name": organisation.name if organisation else None,
        },
        "contact_points": [_dump(p, ("contact_id",)) for p in points.scalars()],
        "push_subscriptions": [
            _dump(s, ("contact_id", "p256dh", "auth")) for s in subscriptions.scalars()
        ],
    }


async def _suppressions_of(
    session: AsyncSession, addresses: set[tuple[str, str]]
) -> list[dict[str, Any]]:
    where = _to_addresses(addresses, col(Suppression.channel), col(Suppression.address))
    rows = await session.execute(select(Suppression).where(where).order_by(col(Suppression.id)))
    return [_dump(s, ("id",)) for s in rows.scalars()]


async def _deliveries_of(session: AsyncSession, person: Person) -> list[dict[str, Any]]:
    rows = await session.execute(_deliveries_query(person).order_by(col(Delivery.id)))
    keep = ("broadcast_id", "channel", "address", "status", "attempts", "error")
    return [
        {
            **{k: getattr(d, k) for k in keep},
            "created_at": as_utc(d.created_at),
            "updated_at": as_utc(d.updated_at),
        }
        for d in rows.scalars()
    ]


class ErasureReport(BaseModel):
    contacts: int
    contact_points: int
    deliveries_masked: int
    suppressions_kept: int


async def erase_person(session: AsyncSession, person: Person) -> ErasureReport:
    """Delete the person's contacts and addresses, mask his deliveries, keep his suppressions."""
    ids = person.contact_ids
    points = await _count(
        session, select(col(ContactPoint.id)).where(col(ContactPoint.contact_id).in_(ids))
    )
    orphaned = person.addresses - await _held_by_others(session, person)
    masked = await mask_deliveries(session, _to_person(person, orphaned))
    await delete_contacts(session, ids)
    kept = len(await _suppressions_of(session, person.addresses))
    return ErasureReport(
        contacts=len(ids), contact_points=points, deliveries_masked=masked, suppressions_kept=kept
    )


async def _held_by_others(session: AsyncSession, person: Person) -> set[tuple[str, str]]:
    """The person's addresses that another contact (anywhere) still holds."""
    where = _to_addresses(person.addresses, col(ContactPoint.channel), col(ContactPoint.address))
    rows = await session.execute(
        select(col(ContactPoint.channel), col(ContactPoint.address)).where(
            where, col(ContactPoint.contact_id).not_in(person.contact_ids)
        )
    )
    return {(channel, address) for channel, address in rows.all()}


# -- audited entry points, for the API, the command line and the cron job (R4) -----------------


def _scope_of(principal: Principal | None) -> int | None:
    return principal.organisation_id if principal else None


async def purge_due(
    session: AsyncSession, settings: Settings, *, trigger: str, dry_run: bool = False
) -> PurgeReport:
    """:func:`purge` with the configured periods, audited with its counts."""
    report = await purge(
        session,
        now=utcnow(),
        contact_retention_days=settings.contact_retention_days,
        delivery_retention_days=settings.delivery_address_retention_days,
        dry_run=dry_run,
    )
    audit(
        session,
        None,
        "privacy.purge",
        details={"trigger": trigger, **report.model_dump(mode="json")},
    )
    return report


def _person_details(query: PersonQuery, person: Person) -> dict[str, Any]:
    return {
        "lookup": query.lookup,
        "address": query.masked(),
        "scope": person.scope_path,
        "contacts": len(person.contacts),
    }


async def access_export(
    session: AsyncSession, principal: Principal | None, query: PersonQuery
) -> PersonExport:
    """Everything held on one person within the caller's scope, audited (R3, R4)."""
    person = await find_person(session, principal, query)
    export = await export_person(session, person, utcnow(), suppression_details=principal is None)
    audit(
        session,
        principal,
        "contacts.export",
        organisation_id=_scope_of(principal),
        object_type="contact" if query.contact_id is not None else None,
        object_id=query.contact_id,
        details={**_person_details(query, person), "rows": export.rows},
    )
    return export


async def erasure(
    session: AsyncSession, principal: Principal | None, query: PersonQuery
) -> ErasureReport:
    """Erase one person within the caller's scope, audited (R3)."""
    person = await find_person(session, principal, query)
    report = await erase_person(session, person)
    audit(
        session,
        principal,
        "contacts.erase",
        organisation_id=_scope_of(principal),
        object_type="contact" if query.contact_id is not None else None,
        object_id=query.contact_id,
        details={**_person_details(query, person), **report.model_dump()},
    )
    return report


# -- CSV export of contacts (A7) ----------------------------------------------------------------

CSV_HEADER = (
    "id",
    "organisation_id",
    "external_id",
    "last_name",
    "first_name",
    "role",
    "level",
    "division",
    "locale",
    "email",
    "mobile",
)
CSV_PAGE = 1000


async def contacts_csv(
    session: AsyncSession, principal: Principal, organisation_id: int | None = None
) -> tuple[str, int]:
    """Every contact within scope (or one subtree of it) as CSV, every cell guarded against
    formula injection (A7), and the number of rows; audited (R4)."""
    rows: list[tuple[object, ...]] = []
    after = 0
    while page := await list_contacts(
        session, principal, organisation_id=organisation_id, after=after, limit=CSV_PAGE
    ):
        rows.extend(tuple(c.value(name) for name in CSV_HEADER) for c in page)
        after = row_id(page[-1].contact)
    audit(
        session,
        principal,
        "contacts.export",
        organisation_id=organisation_id or principal.organisation_id,
        details={"format": "csv", "rows": len(rows)},
    )
    return csv_text(CSV_HEADER, rows), len(rows)

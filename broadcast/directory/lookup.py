"""Contacts as an operator looks them up (issue 11, item 8): a search within scope by name,
school, role, level and class, a contact's page (its organisation, each channel reachable or
not and why), and the opposition list (suppressions) of the addresses held in scope, with an
address added or lifted by hand, audited. Addresses leave here masked (RULES R5).

Suppressions belong to no organisation (an address is refused for every sender); an operator
sees, adds and lifts those of addresses held by a contact within his scope, and no other; a
platform admin, every one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.accounts.models import Role
from broadcast.accounts.scoped import get_within_scope, in_scope
from broadcast.accounts.service import Principal, audit
from broadcast.channels.base import ChannelName
from broadcast.core.errors import InvalidInput, NotFound
from broadcast.core.masking import mask_address
from broadcast.directory.models import Contact, ContactPoint, ContactRole, Organisation, Suppression
from broadcast.directory.service import suppress, unsuppress
from broadcast.imports.addresses import EmailChecker, normalise_mobile

OPERATOR_REASON = "operator"
"""The reason code of a suppression added by hand; the operator's own words go in ``detail``."""
SUPPRESSION_REASONS: dict[str, tuple[str, str]] = {
    OPERATOR_REASON: ("Ajoutée par un opérateur", "Added by an operator"),
    "unsubscribe": ("Désinscription (lien d'un e-mail)", "Unsubscribed (email link)"),
    "stop": ("STOP envoyé par SMS", "STOP sent by SMS"),
    "provider_rejected": ("Adresse refusée par le fournisseur", "Address refused by the provider"),
    "invalid_number": ("Numéro invalide ou inactif", "Invalid or inactive number"),
}
SEARCHED_ROLES = [role.value for role in ContactRole if role != ContactRole.follower]
MAX_WORDS = 4


def reason_label(code: str, locale: str) -> str:
    french, english = SUPPRESSION_REASONS.get(code, (code, code))
    return english if locale == "en" else french


@dataclass(frozen=True, slots=True)
class ContactQuery:
    name: str = ""
    school: str = ""
    role: str = ""
    level: str = ""
    division: str = ""

    def check(self) -> None:
        if self.role and self.role not in SEARCHED_ROLES:
            raise InvalidInput(f"Rôle inconnu : {self.role}.", f"Unknown role: {self.role}.")


@dataclass(frozen=True, slots=True)
class ContactLine:
    contact: Contact
    organisation: Organisation
    email: str | None
    """Masked, as every address here."""
    mobile: str | None


def _contains(column: object, text: str) -> ColumnElement[bool]:
    pattern = "%" + text.lower().replace("\\", "").replace("%", "").replace("_", "") + "%"
    result: ColumnElement[bool] = func.lower(column).like(pattern)
    return result


def _filters(query: ContactQuery) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [col(Contact.role) != ContactRole.follower]
    for word in query.name.split()[:MAX_WORDS]:
        where.append(or_(_contains(Contact.last_name, word), _contains(Contact.first_name, word)))
    if school := query.school.strip():
        where.append(
            or_(
                func.upper(col(Organisation.code)) == school.upper(),
                _contains(Organisation.name, school),
            )
        )
    if query.role:
        where.append(col(Contact.role) == query.role)
    if level := query.level.strip():
        where.append(func.lower(col(Contact.level)) == level.lower())
    if division := query.division.strip():
        where.append(func.lower(col(Contact.division)) == division.lower())
    return where


async def search_contacts(
    session: AsyncSession,
    principal: Principal,
    query: ContactQuery,
    *,
    after: int = 0,
    limit: int = 50,
) -> list[ContactLine]:
    """Contacts within scope matching ``query``, by id after the cursor ``after``."""
    query.check()
    rows = await session.execute(
        select(Contact, Organisation)
        .join(Organisation, col(Organisation.id) == col(Contact.organisation_id))
        .where(in_scope(principal), col(Contact.id) > after, *_filters(query))
        .order_by(col(Contact.id))
        .limit(limit)
    )
    found = [(contact, organisation) for contact, organisation in rows.all()]
    addresses = await _first_addresses(session, [row_id for row_id in (c.id for c, _ in found)])
    return [
        ContactLine(
            contact,
            organisation,
            email=addresses.get((contact.id or 0, ChannelName.email)),
            mobile=addresses.get((contact.id or 0, ChannelName.sms)),
        )
        for contact, organisation in found
    ]


async def _first_addresses(
    session: AsyncSession, contact_ids: list[int | None]
) -> dict[tuple[int, str], str]:
    points = await session.execute(
        select(col(ContactPoint.contact_id), col(ContactPoint.channel), col(ContactPoint.address))
        .where(col(ContactPoint.contact_id).in_(contact_ids))
        .order_by(col(ContactPoint.id))
    )
    first: dict[tuple[int, str], str] = {}
    for contact_id, channel, address in points:
        first.setdefault((contact_id, channel), mask_address(channel, address))
    return first


@dataclass(frozen=True, slots=True)
class Channel:
    """One address of a contact, masked, and whether a send reaches it."""

    channel: str
    address: str
    reachable: bool
    why: str
    """French: why not (or empty when reachable)."""
    suppression_id: int | None = None


@dataclass(frozen=True, slots=True)
class ContactCard:
    contact: Contact
    organisation: Organisation
    channels: list[Channel]
    missing: list[str]
    """The channels (email, sms) the contact has no address on."""

    @property
    def opted_out(self) -> bool:
        return any(c.suppression_id is not None for c in self.channels)


async def contact_card(
    session: AsyncSession, principal: Principal, contact_id: int, locale: str = "fr"
) -> ContactCard:
    """The contact's page: 404 outside scope (as an absent one), a follower included."""
    contact = await get_within_scope(session, principal, Contact, contact_id)
    organisation = await session.get(Organisation, contact.organisation_id)
    assert organisation is not None
    points = (
        await session.execute(
            select(ContactPoint, Suppression)
            .outerjoin(
                Suppression,
                (col(Suppression.channel) == col(ContactPoint.channel))
                & (col(Suppression.address) == col(ContactPoint.address)),
            )
            .where(col(ContactPoint.contact_id) == contact_id)
            .order_by(col(ContactPoint.channel), col(ContactPoint.id))
        )
    ).all()
    left = _left(contact.left_at, locale)
    channels = [
        Channel(
            point.channel,
            mask_address(point.channel, point.address),
            reachable=not left and suppression is None,
            why=left or (_suppressed(suppression, locale) if suppression is not None else ""),
            suppression_id=suppression.id if suppression is not None else None,
        )
        for point, suppression in points
    ]
    held = {c.channel for c in channels}
    missing = [str(name) for name in (ChannelName.email, ChannelName.sms) if name not in held]
    return ContactCard(contact, organisation, channels, missing)


def _left(left_at: datetime | None, locale: str) -> str:
    if left_at is None:
        return ""
    return "Contact parti : plus aucun envoi" if locale != "en" else "Contact left: no more sends"


def _suppressed(suppression: Suppression, locale: str) -> str:
    lead = "On the opposition list: " if locale == "en" else "Sur la liste d'opposition : "
    reason = reason_label(suppression.reason, locale).lower()
    return lead + reason + (f" ({suppression.detail})" if suppression.detail else "")


# -- the opposition list -------------------------------------------------------------------


def _held_in_scope(principal: Principal) -> ColumnElement[bool]:
    """SQL: the suppression's address is held by a contact within the principal's scope."""
    return (
        select(col(ContactPoint.id))
        .join(Contact, col(Contact.id) == col(ContactPoint.contact_id))
        .join(Organisation, col(Organisation.id) == col(Contact.organisation_id))
        .where(
            col(ContactPoint.channel) == col(Suppression.channel),
            col(ContactPoint.address) == col(Suppression.address),
            in_scope(principal),
        )
        .exists()
    )


def _visible(principal: Principal) -> ColumnElement[bool]:
    """SQL: the suppressions the principal may see and lift: those of addresses held within his
    scope; every one for a platform admin, addresses no contact holds any more included (a
    hard bounce, a STOP or an objection outlives the contact it came from)."""
    if principal.role == Role.platform_admin:
        return true()
    return _held_in_scope(principal)


async def list_suppressions(
    session: AsyncSession, principal: Principal, *, before: int = 0, limit: int = 50
) -> list[Suppression]:
    """Suppressions the principal may see, newest first, older than the cursor."""
    query = select(Suppression).where(_visible(principal))
    if before:
        query = query.where(col(Suppression.id) < before)
    rows = await session.execute(query.order_by(col(Suppression.id).desc()).limit(limit))
    return list(rows.scalars())


async def get_suppression(
    session: AsyncSession, principal: Principal, suppression_id: int
) -> Suppression:
    found = await session.scalar(
        select(Suppression).where(col(Suppression.id) == suppression_id, _visible(principal))
    )
    if found is None:
        raise NotFound()
    return found


def parse_address(raw: str) -> tuple[str, str]:
    """``(channel, address)`` of an email or a mobile number as a person types it."""
    text = raw.strip()
    if not text:
        raise InvalidInput(
            "Indiquez une adresse électronique ou un numéro de portable.",
            "Give an email address or a mobile number.",
        )
    if "@" in text:
        email = EmailChecker().normalise(text)
        if email is None:
            raise InvalidInput("Adresse électronique invalide.", "Invalid email address.")
        return ChannelName.email.value, email
    phone = normalise_mobile(text)
    if phone is None:
        raise InvalidInput("Numéro de téléphone invalide.", "Invalid phone number.")
    return ChannelName.sms.value, phone.e164


async def add_suppression(
    session: AsyncSession, principal: Principal, raw_address: str, reason: str
) -> Suppression:
    """Put an address held in scope on the opposition list with the operator's reason (any
    address for a platform admin: one that no contact holds yet is refused from then on)."""
    channel, address = parse_address(raw_address)
    detail = " ".join(reason.split())
    if not detail:
        raise InvalidInput("Indiquez le motif.", "Give the reason.")
    held = await session.scalar(
        select(col(ContactPoint.id))
        .join(Contact, col(Contact.id) == col(ContactPoint.contact_id))
        .join(Organisation, col(Organisation.id) == col(Contact.organisation_id))
        .where(
            col(ContactPoint.channel) == channel,
            col(ContactPoint.address) == address,
            in_scope(principal),
        )
        .limit(1)
    )
    if held is None and principal.role != Role.platform_admin:
        raise InvalidInput(
            "Aucun contact de votre périmètre n'a cette adresse.",
            "No contact within your scope has this address.",
        )
    existing = await _suppression_of(session, channel, address)
    if existing is not None:
        raise InvalidInput(
            "Cette adresse est déjà sur la liste d'opposition.",
            "This address is already on the opposition list.",
        )
    await suppress(session, channel, address, OPERATOR_REASON, detail[:200])
    added = await _suppression_of(session, channel, address)
    assert added is not None
    audit(
        session,
        principal,
        "contacts.suppression.add",
        organisation_id=principal.organisation_id,
        object_type="suppression",
        object_id=added.id,
        details={"channel": channel, "address": mask_address(channel, address), "reason": detail},
    )
    return added


async def lift_suppression(
    session: AsyncSession, principal: Principal, suppression: Suppression
) -> None:
    await unsuppress(session, suppression.channel, suppression.address)
    audit(
        session,
        principal,
        "contacts.suppression.lift",
        organisation_id=principal.organisation_id,
        object_type="suppression",
        object_id=suppression.id,
        details={
            "channel": suppression.channel,
            "address": mask_address(suppression.channel, suppression.address),
            "reason": suppression.reason,
        },
    )


async def _suppression_of(session: AsyncSession, channel: str, address: str) -> Suppression | None:
    found: Suppression | None = await session.scalar(
        select(Suppression).where(
            col(Suppression.channel) == channel, col(Suppression.address) == address
        )
    )
    return found

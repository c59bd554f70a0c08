"""Web-push subscriptions: registered for a contact, or by an anonymous follower (RULES P1, P2).

A subscription's contact point is ``ContactPoint(channel="push", address=str(subscription.id))``;
an anonymous follower of an organisation is a :class:`Contact` of role ``follower`` with no name.
An endpoint belongs to one contact: registering it again (a browser renewing its keys, or
subscribing under another contact) updates the one row instead of adding another.

Endpoints are capability URLs and public registrations come from anyone: outside
``BROADCAST_ENV=dev`` an endpoint must be ``https`` on a known push service
(``Settings.push_service_hosts``), so that nobody can make the workers post elsewhere.
Services take a session and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from sqlalchemy import delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.accounts.scoped import get_within_scope
from broadcast.accounts.service import Principal
from broadcast.channels.base import ChannelName
from broadcast.core.errors import DomainError, InvalidInput, NotFound
from broadcast.core.sqlutil import row_id
from broadcast.core.timeutil import utcnow
from broadcast.directory.models import (
    Contact,
    ContactPoint,
    ContactRole,
    Organisation,
    OrganisationKind,
    PushSubscription,
)
from broadcast.directory.schemas import FollowIn, SubscriptionIn
from broadcast.settings import Settings

PUSH = ChannelName.push.value


class PushNotConfigured(DomainError):
    status_code = 503
    code = "push_not_configured"
    message_fr = "Les notifications web ne sont pas configurées sur ce service."
    message_en = "Web push is not configured on this service."


class TooManyRequests(DomainError):
    status_code = 429
    code = "too_many_requests"
    message_fr = "Trop de demandes depuis cette adresse : réessayez dans une minute."
    message_en = "Too many requests from this address: try again in a minute."


def check_endpoint(settings: Settings, endpoint: str) -> None:
    """The endpoint must be an https URL of a known push service (any http(s) URL in dev)."""
    parts = urlsplit(endpoint)
    allowed = ("http", "https") if settings.env == "dev" else ("https",)
    if parts.scheme not in allowed or not parts.hostname or parts.username or parts.password:
        raise InvalidInput(
            "Adresse d'abonnement invalide : une URL https est attendue.",
            "Invalid subscription endpoint: an https URL is expected.",
        )
    if settings.env != "dev" and not _known_push_host(parts.hostname, settings.push_service_hosts):
        raise InvalidInput(
            "Adresse d'abonnement refusée : ce service de notification n'est pas reconnu.",
            "Subscription endpoint refused: unknown push service.",
        )


def _known_push_host(host: str, allowed: Sequence[str]) -> bool:
    host = host.lower().rstrip(".")
    return any(
        host.endswith(entry.lower()) if entry.startswith(".") else host == entry.lower()
        for entry in allowed
    )


async def register_for_contact(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    contact_id: int,
    data: SubscriptionIn,
) -> tuple[PushSubscription, Contact]:
    """Attach a browser's subscription to a contact of the principal's scope (404 outside)."""
    check_endpoint(settings, data.endpoint)
    not_found = NotFound("Contact introuvable.", "Contact not found.")
    contact = await get_within_scope(session, principal, Contact, contact_id, not_found)
    if contact.left_at is not None:
        raise not_found
    return await attach_subscription(session, contact, data), contact


async def follow(
    session: AsyncSession, settings: Settings, data: FollowIn
) -> tuple[PushSubscription, Contact]:
    """Public: a browser follows an organisation's page, anonymously. One browser may follow
    several pages: its one subscription gets a follower contact per organisation followed, each
    holding the subscription's contact point, so that a broadcast reaching two of them (the
    académie and its school) plans the address once (RULES D1)."""
    check_endpoint(settings, data.endpoint)
    organisation = await _followed_organisation(session, data)
    existing = await _by_endpoint(session, data.endpoint)
    owner = await session.get(Contact, existing.contact_id) if existing else None
    if existing is None or owner is None or owner.role != ContactRole.follower:
        contact = await _new_follower(session, organisation, data.locale)
        return await attach_subscription(session, contact, data), contact
    _renew_keys(existing, data)
    address = str(row_id(existing))
    found = await _follower_of(session, organisation, address)
    contact = found or await _new_follower(session, organisation, data.locale)
    if found is None:
        session.add(ContactPoint(contact_id=row_id(contact), channel=PUSH, address=address))
    contact.locale = data.locale
    contact.updated_at = utcnow()
    await session.flush()
    return existing, contact


async def _new_follower(session: AsyncSession, organisation: Organisation, locale: str) -> Contact:
    contact = Contact(
        organisation_id=row_id(organisation), role=ContactRole.follower, locale=locale
    )
    session.add(contact)
    await session.flush()
    return contact


async def _follower_of(
    session: AsyncSession, organisation: Organisation, address: str
) -> Contact | None:
    """The follower contact of ``organisation`` holding the subscription ``address``."""
    return await session.scalar(
        select(Contact)
        .join(ContactPoint, col(ContactPoint.contact_id) == col(Contact.id))
        .where(
            col(Contact.organisation_id) == organisation.id,
            col(Contact.role) == ContactRole.follower,
            col(ContactPoint.channel) == PUSH,
            col(ContactPoint.address) == address,
        )
    )


def _renew_keys(subscription: PushSubscription, data: SubscriptionIn) -> None:
    subscription.p256dh = data.keys.p256dh
    subscription.auth = data.keys.auth
    subscription.user_agent = data.user_agent


async def _followed_organisation(session: AsyncSession, data: FollowIn) -> Organisation:
    if (data.organisation_id is None) == (data.uai is None):
        raise InvalidInput(
            "Indiquez soit organisation_id, soit uai.",
            "Give either organisation_id or uai.",
        )
    if data.organisation_id is not None:
        organisation = await session.get(Organisation, data.organisation_id)
    else:
        organisation = await session.scalar(
            select(Organisation).where(
                col(Organisation.code) == (data.uai or "").upper(),
                col(Organisation.kind) == OrganisationKind.etablissement,
            )
        )
    if organisation is None:
        raise NotFound("Établissement ou organisation introuvable.", "Organisation not found.")
    return organisation


async def _by_endpoint(session: AsyncSession, endpoint: str) -> PushSubscription | None:
    return await session.scalar(
        select(PushSubscription).where(col(PushSubscription.endpoint) == endpoint)
    )


async def attach_subscription(
    session: AsyncSession, contact: Contact, data: SubscriptionIn
) -> PushSubscription:
    """The endpoint's one row, with these keys, belonging to ``contact``."""
    subscription = await _by_endpoint(session, data.endpoint)
    contact_id = row_id(contact)
    if subscription is None:
        subscription = PushSubscription(
            contact_id=contact_id, endpoint=data.endpoint, p256dh="", auth=""
        )
        session.add(subscription)
    _renew_keys(subscription, data)
    subscription.contact_id = contact_id
    await session.flush()
    await _point_to(session, contact_id, str(row_id(subscription)))
    return subscription


async def _point_to(session: AsyncSession, contact_id: int, address: str) -> None:
    """The subscription's one contact point, belonging to ``contact_id``: the points other
    contacts held (the pages it followed) go, and so do the followers left without any."""
    others = list(
        (
            await session.execute(
                select(col(ContactPoint.contact_id)).where(
                    col(ContactPoint.channel) == PUSH,
                    col(ContactPoint.address) == address,
                    col(ContactPoint.contact_id) != contact_id,
                )
            )
        ).scalars()
    )
    if others:
        await session.execute(
            delete(ContactPoint)
            .where(
                col(ContactPoint.channel) == PUSH,
                col(ContactPoint.address) == address,
                col(ContactPoint.contact_id) != contact_id,
            )
            .execution_options(synchronize_session=False)
        )
        await drop_orphan_followers(session, others)
    held = await session.scalar(
        select(col(ContactPoint.id)).where(
            col(ContactPoint.contact_id) == contact_id,
            col(ContactPoint.channel) == PUSH,
            col(ContactPoint.address) == address,
        )
    )
    if held is None:
        session.add(ContactPoint(contact_id=contact_id, channel=PUSH, address=address))
        await session.flush()


async def unsubscribe(session: AsyncSession, endpoint: str) -> bool:
    """Public: forget the subscription of ``endpoint``; False when there was none."""
    subscription = await _by_endpoint(session, endpoint)
    if subscription is None:
        return False
    await delete_subscriptions(session, [row_id(subscription)])
    return True


async def delete_subscriptions(session: AsyncSession, ids: Sequence[int]) -> int:
    """Delete subscriptions, their contact points, and the follower contacts left with none.

    Used when the push service answers 404/410 (RULES P2): the subscription is gone for good."""
    if not ids:
        return 0
    contact_ids = list(
        (
            await session.execute(
                select(col(ContactPoint.contact_id)).where(
                    col(ContactPoint.channel) == PUSH,
                    col(ContactPoint.address).in_([str(i) for i in ids]),
                )
            )
        ).scalars()
    )
    await session.execute(
        delete(ContactPoint)
        .where(
            col(ContactPoint.channel) == PUSH,
            col(ContactPoint.address).in_([str(i) for i in ids]),
        )
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(
        delete(PushSubscription)
        .where(col(PushSubscription.id).in_(ids))
        .execution_options(synchronize_session=False)
    )
    await drop_orphan_followers(session, contact_ids)
    return int(getattr(result, "rowcount", 0) or 0)


async def record_push_successes(session: AsyncSession, ids: Sequence[int]) -> None:
    """``last_success_at`` of subscriptions a push service just accepted a message for (one
    statement per group): a subscription silent for months can be told from a live one."""
    if ids:
        await session.execute(
            update(PushSubscription)
            .where(col(PushSubscription.id).in_(ids))
            .values(last_success_at=utcnow())
            .execution_options(synchronize_session=False)
        )


async def drop_orphan_followers(session: AsyncSession, contact_ids: Sequence[int]) -> None:
    """A follower exists only for its subscriptions: without a contact point, it goes."""
    if not contact_ids:
        return
    has_point = exists().where(col(ContactPoint.contact_id) == col(Contact.id))
    await session.execute(
        delete(Contact)
        .where(
            col(Contact.id).in_(set(contact_ids)),
            col(Contact.role) == ContactRole.follower,
            ~has_point,
        )
        .execution_options(synchronize_session=False)
    )


async def subscriptions_by_id(
    session: AsyncSession, ids: Sequence[int]
) -> dict[int, PushSubscription]:
    """The subscriptions of a batch, in one query."""
    rows = await session.execute(select(PushSubscription).where(col(PushSubscription.id).in_(ids)))
    return {row_id(subscription): subscription for subscription in rows.scalars()}


def subscription_info(subscription: PushSubscription) -> dict[str, object]:
    """The ``subscription_info`` pywebpush encrypts for."""
    return {
        "endpoint": subscription.endpoint,
        "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
    }

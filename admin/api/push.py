"""Web push: the application server key, subscriptions for contacts, anonymous followers.

Only the registration for a contact needs an API key; the browser side (public key, follow,
unsubscribe) is public, as a school's web page calls it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from admin.deps import SettingsDep, UowDep, requires
from admin.idempotency import idempotent
from broadcast.accounts.permissions import Permission
from broadcast.accounts.service import Principal, audit
from broadcast.channels.push.vapid import application_server_key, load_vapid_key
from broadcast.core.validation import RowId
from broadcast.directory import push
from broadcast.directory.schemas import (
    FollowIn,
    PublicKey,
    SubscriptionIn,
    SubscriptionOut,
    UnsubscribeIn,
    subscription_out,
)
from broadcast.ratelimit import RateLimit, RateLimiter
from broadcast.settings import Settings

router = APIRouter(tags=["push"])

ContactWriter = Annotated[Principal, requires(Permission.contacts_write)]

PUBLIC_RATE = RateLimit(rate=1 / 6, burst=10)
"""Public follow and unsubscribe calls per client address: ten at once, then one every six
seconds. Behind a reverse proxy, name it in ``BROADCAST_TRUSTED_PROXIES`` so that the address is
the client's it forwards; nobody else's ``X-Forwarded-For`` is believed."""


async def public_rate_limit(request: Request) -> None:
    """Anyone may call the public routes: each client address has its own token bucket."""
    limiter: RateLimiter = request.app.state.limiter
    client = request.client.host if request.client is not None else "unknown"
    if await limiter.try_acquire([(f"public:push:{client}", PUBLIC_RATE)]) > 0:
        raise push.TooManyRequests()


def _public_key(settings: Settings) -> str:
    if settings.vapid_private_key is None:
        raise push.PushNotConfigured()
    return application_server_key(load_vapid_key(settings.vapid_private_key.get_secret_value()))


@router.get("/push/public-key", response_model=PublicKey)
async def public_key(settings: SettingsDep) -> PublicKey:
    return PublicKey(public_key=_public_key(settings))


@router.post(
    "/contacts/{contact_id}/push-subscriptions",
    status_code=status.HTTP_201_CREATED,
    response_model=SubscriptionOut,
)
@idempotent
async def register_subscription(
    uow: UowDep,
    principal: ContactWriter,
    settings: SettingsDep,
    contact_id: RowId,
    subscription: SubscriptionIn,
) -> SubscriptionOut:
    created, contact = await push.register_for_contact(
        uow.session, settings, principal, contact_id, subscription
    )
    audit(
        uow.session,
        principal,
        "push.subscribe",
        organisation_id=contact.organisation_id,
        object_type="contact",
        object_id=contact_id,
    )
    return subscription_out(created, contact)


@router.post(
    "/push/follow",
    status_code=status.HTTP_201_CREATED,
    response_model=SubscriptionOut,
    dependencies=[Depends(public_rate_limit)],
)
async def follow(uow: UowDep, settings: SettingsDep, data: FollowIn) -> SubscriptionOut:
    """Public: follow an organisation's notices from a browser, without an account."""
    _public_key(settings)
    return subscription_out(*await push.follow(uow.session, settings, data))


@router.delete(
    "/push/subscriptions",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[Depends(public_rate_limit)],
)
async def unsubscribe(uow: UowDep, data: UnsubscribeIn) -> Response:
    """Public, by endpoint (the browser's capability URL); 204 whether it was known or not."""
    await push.unsubscribe(uow.session, data.endpoint)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

"""Opaque one-click unsubscribe tokens (RULES E1).

A token names the delivery it was sent with and carries an HMAC of it, so the address never
appears in a URL and a token cannot be forged or pointed at another delivery.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.core.validation import INT64_MAX
from broadcast.deliveries.models import Delivery
from broadcast.directory.models import Contact, ContactPoint, ContactRole
from broadcast.directory.push import drop_orphan_followers
from broadcast.directory.service import suppress

_TAG_BYTES = 16
_TOKEN = re.compile(r"[0-9]{1,19}\.[A-Za-z0-9_-]{22}")
"""A delivery id of at most 19 digits (64 bits), then the tag: 16 bytes in base64url."""


def _tag(secret: str, delivery_id: int) -> bytes:
    message = f"unsubscribe:{delivery_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()[:_TAG_BYTES]


def unsubscribe_token(secret: str, delivery_id: int) -> str:
    tag = base64.urlsafe_b64encode(_tag(secret, delivery_id)).rstrip(b"=").decode()
    return f"{delivery_id}.{tag}"


def read_unsubscribe_token(secret: str, token: str) -> int | None:
    """The delivery id a genuine token names, or None for anything else (any length, any
    characters: only ASCII digits, a dot and the tag's base64url are read)."""
    if not _TOKEN.fullmatch(token):
        return None
    head, _, tag = token.partition(".")
    delivery_id = int(head)
    if delivery_id > INT64_MAX:
        return None
    expected = unsubscribe_token(secret, delivery_id).partition(".")[2]
    return delivery_id if hmac.compare_digest(expected, tag) else None


def unsubscribe_url(public_base_url: str, secret: str, delivery_id: int) -> str:
    return f"{public_base_url.rstrip('/')}/u/{unsubscribe_token(secret, delivery_id)}"


async def unsubscribe(session: AsyncSession, secret: str, token: str) -> bool:
    """Suppress the address a genuine token was sent to, and forget the status pages it
    followed (no use keeping them); False for an unknown token."""
    delivery_id = read_unsubscribe_token(secret, token)
    delivery = await session.get(Delivery, delivery_id) if delivery_id is not None else None
    if delivery is None:
        return False
    await suppress(session, delivery.channel, delivery.address, "unsubscribe")
    await forget_follows(session, delivery.channel, delivery.address)
    return True


async def forget_follows(session: AsyncSession, channel: str, address: str) -> None:
    """The address stops following every status page: its follower contact points go, and the
    follower contacts left without any."""
    followers = list(
        (
            await session.execute(
                select(col(ContactPoint.contact_id))
                .join(Contact, col(Contact.id) == col(ContactPoint.contact_id))
                .where(
                    col(ContactPoint.channel) == channel,
                    col(ContactPoint.address) == address,
                    col(Contact.role) == ContactRole.follower,
                )
            )
        ).scalars()
    )
    if not followers:
        return
    await session.execute(
        delete(ContactPoint)
        .where(
            col(ContactPoint.channel) == channel,
            col(ContactPoint.address) == address,
            col(ContactPoint.contact_id).in_(followers),
        )
        .execution_options(synchronize_session=False)
    )
    await drop_orphan_followers(session, followers)

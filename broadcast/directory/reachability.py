"""What a send's outcome teaches the directory about an address, whatever the channel.

An address a provider refuses for good (a hard bounce, an invalid number, a push subscription
404/410) is never written to again: an email or a number is suppressed, and a push address,
being a subscription id (``ContactPoint(channel="push", address=str(id))``), is deleted with its
contact point (RULES E2, S2, P2). An address a provider accepted keeps the proof it is alive
where the directory keeps one (a push subscription's ``last_success_at``).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from broadcast.channels.base import ChannelName
from broadcast.directory.push import delete_subscriptions, record_push_successes
from broadcast.directory.service import suppress_many

REJECTED = "provider_rejected"


async def retire_addresses(session: AsyncSession, channel: str, addresses: Sequence[str]) -> None:
    """Never write to ``addresses`` on ``channel`` again."""
    if channel == ChannelName.push:
        await delete_subscriptions(session, [int(address) for address in addresses])
        return
    await suppress_many(session, [(channel, address) for address in addresses], reason=REJECTED)


async def record_reached(session: AsyncSession, channel: str, addresses: Sequence[str]) -> None:
    """``addresses`` just accepted a message on ``channel``."""
    if channel == ChannelName.push:
        await record_push_successes(session, [int(address) for address in addresses])

"""Provider news applied: a parsed status moves its delivery, an opt-out changes the suppressions.

Each provider's package parses its own callbacks (Twilio's in
:mod:`broadcast.channels.sms.callbacks`) into the one shape :class:`ProviderStatus`; nothing here
knows a provider's words. Updates only move a delivery forward (:data:`STATUS_RANK`, RULES D5),
so a late or repeated callback changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.channels.base import OptOut, ProviderStatus
from broadcast.core.timeutil import utcnow
from broadcast.deliveries.models import STATUS_RANK, Delivery, DeliveryStatus
from broadcast.directory.service import suppress, unsuppress


async def apply_status_to(session: AsyncSession, delivery: Delivery, news: ProviderStatus) -> bool:
    """Apply one parsed status to ``delivery``; True when it moved."""
    if news.suppress_reason is not None:
        await suppress(session, delivery.channel, delivery.address, news.suppress_reason)
    if not news.moves:
        return False
    return await _move_forward(session, delivery.id or 0, news.status, news.error)


async def delivery_by_message_id(
    session: AsyncSession, channel: str, provider_message_id: str
) -> Delivery | None:
    """The delivery the provider knows by ``provider_message_id`` on ``channel``."""
    if not provider_message_id:
        return None
    found = await session.execute(
        select(Delivery).where(
            col(Delivery.provider_message_id) == provider_message_id,
            col(Delivery.channel) == channel,
        )
    )
    return found.scalars().first()


async def deliveries_by_message_ids(
    session: AsyncSession, channel: str, message_ids: Iterable[str]
) -> dict[str, Delivery]:
    """The deliveries the provider knows by these ids on ``channel``, by id: one query."""
    rows = await session.execute(
        select(Delivery).where(
            col(Delivery.channel) == channel,
            col(Delivery.provider_message_id).in_(sorted(set(message_ids))),
        )
    )
    return {d.provider_message_id: d for d in rows.scalars() if d.provider_message_id}


async def apply_statuses_to(
    session: AsyncSession, found: Mapping[str, Delivery], news: Sequence[ProviderStatus]
) -> int:
    """Apply many parsed statuses to the deliveries ``found`` by message id, with one
    statement per status, lowest rank first: each delivery ends at the most advanced status
    it was told, as one by one and forward-only (D5). The number of moves."""
    groups: dict[tuple[DeliveryStatus, str | None], list[int]] = defaultdict(list)
    for item in news:
        delivery = found.get(item.provider_message_id)
        if delivery is None or delivery.id is None:
            continue
        if item.suppress_reason is not None:
            await suppress(session, delivery.channel, delivery.address, item.suppress_reason)
        if item.moves:
            groups[(item.status, item.error)].append(delivery.id)
    moved = 0
    for (status, error), ids in sorted(groups.items(), key=lambda g: STATUS_RANK[g[0][0]]):
        moved += await move_forward(session, ids, status, error)
    return moved


async def apply_opt_out(session: AsyncSession, opt_out: OptOut) -> None:
    """A STOP suppresses the address on its channel, a START lifts it (RULES S3)."""
    if opt_out.stop:
        await suppress(session, opt_out.channel, opt_out.address, "stop")
    else:
        await unsuppress(session, opt_out.channel, opt_out.address)


async def _move_forward(
    session: AsyncSession, delivery_id: int, status: DeliveryStatus, error: str | None
) -> bool:
    return bool(await move_forward(session, [delivery_id], status, error))


async def move_forward(
    session: AsyncSession, delivery_ids: Sequence[int], status: DeliveryStatus, error: str | None
) -> int:
    """Move the deliveries still below ``status`` to it, in one statement; how many moved."""
    lower = [s.value for s, rank in STATUS_RANK.items() if rank < STATUS_RANK[status]]
    values: dict[str, object] = {"status": status.value, "updated_at": utcnow()}
    if error is not None:
        values["error"] = error
    result = await session.execute(
        update(Delivery)
        .where(col(Delivery.id).in_(delivery_ids), col(Delivery.status).in_(lower))
        .values(**values)
    )
    return int(getattr(result, "rowcount", 0) or 0)

"""Follow-ups: an update of a notice ("résolu") sent to exactly the addresses an earlier
broadcast of the same notice planned, as they were then.

The follow-up is a draft like any other (preview, confirm, approval); its planner reads the
earlier broadcast's Delivery rows instead of the directory (see
:mod:`broadcast.broadcasts.sources`): no one added since is reached, no one removed or changed
since is missed; addresses suppressed since are left out. Every planned address counts, whatever
became of its delivery (sent, failed, cancelled): the audience is the one resolved then.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from broadcast.accounts.service import Principal
from broadcast.broadcasts.models import Broadcast, BroadcastStatus, status_fr
from broadcast.broadcasts.schemas import FollowUpIn
from broadcast.broadcasts.service import confirm
from broadcast.channels.base import ChannelName
from broadcast.core.errors import Conflict, InvalidInput
from broadcast.core.sqlutil import row_id
from broadcast.notices.models import NoticeStatus
from broadcast.notices.schemas import UpdateIn
from broadcast.notices.service import add_update, get_notice, get_update
from broadcast.settings import Settings

PLANNED = (
    BroadcastStatus.sending,
    BroadcastStatus.paused,
    BroadcastStatus.completed,
    BroadcastStatus.cancelled,
)


async def create_follow_up(
    session: AsyncSession, principal: Principal, earlier: Broadcast, data: FollowUpIn
) -> Broadcast:
    notice = await get_notice(session, principal, earlier.notice_id)
    update_row = await get_update(session, notice, data.update_id)
    _ensure_planned(earlier)
    follow_up = Broadcast(
        notice_id=earlier.notice_id,
        update_id=row_id(update_row),
        organisation_id=earlier.organisation_id,
        audience=earlier.audience,
        channels=_channels(earlier, data.channels),
        priority=data.priority or earlier.priority,
        delivery_mode=earlier.delivery_mode,
        is_exercise=earlier.is_exercise,
        follow_up_of_id=row_id(earlier),
        created_by_id=principal.operator_id,
    )
    session.add(follow_up)
    await session.flush()
    return follow_up


async def send_resolution(
    session: AsyncSession,
    principal: Principal,
    earlier: Broadcast,
    message: str,
    settings: Settings,
) -> Broadcast:
    """ "Envoyer la suite": the notice resolved by ``message``, and that update sent to the
    addresses ``earlier`` planned, confirmed at once (queued, or waiting for approval as any
    send would; the caller enqueues after commit)."""
    _ensure_planned(earlier)
    notice = await get_notice(session, principal, earlier.notice_id)
    update = await add_update(
        session, principal, notice, UpdateIn(status=NoticeStatus.resolved, message=message)
    )
    follow_up = await create_follow_up(
        session, principal, earlier, FollowUpIn(update_id=row_id(update))
    )
    return await confirm(session, principal, follow_up, settings)


def _ensure_planned(earlier: Broadcast) -> None:
    """The earlier broadcast's addresses are known once its fan-out is done (or it stopped)."""
    planned = earlier.fanout_done or earlier.status == BroadcastStatus.cancelled
    if earlier.status not in PLANNED or not planned:
        raise Conflict(
            f"La diffusion d'origine est {status_fr(earlier.status)} et ses destinataires ne "
            "sont pas encore tous connus : la suite ne peut pas encore être préparée.",
            f"The earlier broadcast is {earlier.status} and not fully planned yet.",
        )


def _channels(earlier: Broadcast, wanted: list[ChannelName] | None) -> list[str]:
    if wanted is None:
        return list(earlier.channels)
    channels = list(dict.fromkeys(c.value for c in wanted))
    outside = [c for c in channels if c not in earlier.channels]
    if outside:
        raise InvalidInput(
            f"La diffusion d'origine n'utilisait pas ces canaux : {', '.join(outside)}.",
            f"The earlier broadcast did not use these channels: {', '.join(outside)}.",
        )
    return channels

"""Answers that need more than the row they show: a broadcast with its delivery counts, a
notice with its updates. The routes of several modules build them the same way."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from broadcast.audiences.preview import AudiencePreview
from broadcast.broadcasts import service as broadcasts
from broadcast.broadcasts.models import Broadcast
from broadcast.broadcasts.schemas import BroadcastOut, broadcast_out
from broadcast.core.sqlutil import row_id
from broadcast.notices import service as notices
from broadcast.notices.models import Notice
from broadcast.notices.schemas import NoticeOut, notice_out


async def broadcast_answer(
    session: AsyncSession, broadcast: Broadcast, preview: AudiencePreview | None = None
) -> BroadcastOut:
    counters = await broadcasts.counters(session, row_id(broadcast))
    return broadcast_out(broadcast, counters, broadcasts.totals(counters), preview)


async def notice_answer(session: AsyncSession, notice: Notice) -> NoticeOut:
    return notice_out(notice, await notices.list_updates(session, notice))

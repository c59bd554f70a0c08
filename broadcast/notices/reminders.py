"""The reminder of a promised update: five minutes before "prochaine mise à jour à 10 h 30",
its author gets an email, once per promise.

A worker's cron looks each half-minute for the notices whose promised time is that close; each
is claimed by a conditional update (``reminded_for`` takes the promised time) in the same
transaction as the send, so that two workers never both send it, and a relay that refuses
leaves it unclaimed for the next tick. A new promise (a new ``next_update_at``) is reminded of
again. The author is whoever posted the latest update, else whoever opened the notice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.accounts.models import Operator
from broadcast.core.db import SessionFactory, transaction
from broadcast.core.mail import operator_email, send_to_operator
from broadcast.core.masking import mask_email
from broadcast.core.timeutil import utcnow
from broadcast.notices.models import Notice, NoticeStatus, NoticeUpdate
from broadcast.settings import Settings
from broadcast.status.timefmt import clock

log = logging.getLogger(__name__)

REMIND_BEFORE = timedelta(minutes=5)


async def send_due_reminders(
    factory: SessionFactory, settings: Settings, now: datetime | None = None
) -> int:
    """Remind the authors whose promised update is five minutes away or less; how many."""
    now = now or utcnow()
    async with factory() as session:
        due = await _due_notice_ids(session, now)
    sent = 0
    for notice_id in due:
        try:
            sent += await _remind(factory, settings, notice_id)
        except Exception:  # the relay refused or is down: unclaimed, tried again next tick
            log.exception("notice %s: reminder not sent; it will be tried again", notice_id)
    return sent


async def _due_notice_ids(session: AsyncSession, now: datetime) -> list[int]:
    rows = await session.execute(
        select(col(Notice.id)).where(
            col(Notice.next_update_at).is_not(None),
            col(Notice.next_update_at) <= now + REMIND_BEFORE,
            col(Notice.status) != NoticeStatus.resolved,
            _not_reminded_yet(),
        )
    )
    return [row_id for (row_id,) in rows.all() if row_id is not None]


def _not_reminded_yet() -> ColumnElement[bool]:
    return or_(
        col(Notice.reminded_for).is_(None),
        col(Notice.reminded_for) != col(Notice.next_update_at),
    )


async def _remind(factory: SessionFactory, settings: Settings, notice_id: int) -> int:
    async with transaction(factory) as session:
        claimed = await session.execute(
            update(Notice)
            .where(col(Notice.id) == notice_id, col(Notice.next_update_at).is_not(None))
            .where(_not_reminded_yet())
            .values(reminded_for=Notice.next_update_at)
        )
        if not claimed.rowcount:  # type: ignore[attr-defined]
            return 0
        notice = await session.get(Notice, notice_id)
        assert notice is not None and notice.next_update_at is not None
        author = await _author(session, notice)
        if author is None or not author.active:
            log.info("notice %s: promised update without an author to remind", notice_id)
            return 0
        await send_to_operator(settings, reminder_message(settings, notice, author))
    log.info("notice %s: reminder sent to %s", notice_id, mask_email(author.email))
    return 1


async def _author(session: AsyncSession, notice: Notice) -> Operator | None:
    latest = await session.scalar(
        select(col(NoticeUpdate.created_by_id))
        .where(col(NoticeUpdate.notice_id) == notice.id)
        .order_by(col(NoticeUpdate.id).desc())
        .limit(1)
    )
    author_id = latest or notice.created_by_id
    return await session.get(Operator, author_id) if author_id else None


def reminder_message(settings: Settings, notice: Notice, author: Operator) -> EmailMessage:
    """The reminder in the author's language (French unless he chose English)."""
    assert notice.next_update_at is not None
    english = author.locale == "en"
    promised = clock(notice.next_update_at, "en" if english else "fr")
    link = f"{settings.public_base_url}/console/incidents/{notice.id}"
    words = _english if english else _french
    title = " ".join(notice.title.split())  # one line: it goes into the Subject header
    subject, text = words(author.display_name, title, promised, link)
    return operator_email(settings, author.email, subject, text)


def _french(name: str, title: str, promised: str, link: str) -> tuple[str, str]:
    return f"Mise à jour annoncée à {promised} : {title}", (
        f"Bonjour {name},\n\n"
        f"Vous avez annoncé la prochaine mise à jour de l'incident « {title} » à {promised}. "
        "Les familles et les personnels l'attendent.\n\n"
        f"Pour la publier : {link}\n\n"
        "Ce message est envoyé automatiquement, une seule fois pour cette heure annoncée.\n"
    )


def _english(name: str, title: str, promised: str, link: str) -> tuple[str, str]:
    return f"Update promised at {promised}: {title}", (
        f"Hello {name},\n\n"
        f"You announced the next update of the incident “{title}” at {promised}. "
        "Families and staff are waiting for it.\n\n"
        f"To post it: {link}\n\n"
        "This message is sent automatically, once for this promised time.\n"
    )

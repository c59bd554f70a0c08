"""Notices and their updates. Services take a session and never commit."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.accounts.service import Principal, audit
from broadcast.core.errors import NotFound
from broadcast.core.sqlutil import row_id
from broadcast.core.timeutil import utcnow
from broadcast.directory.models import Organisation
from broadcast.notices.models import Notice, NoticeStatus, NoticeUpdate
from broadcast.notices.schemas import NoticeIn, UpdateIn
from broadcast.webhooks.events import emit_notice_event
from broadcast.webhooks.models import WebhookEvent


async def create_notice(session: AsyncSession, principal: Principal, data: NoticeIn) -> Notice:
    organisation = principal.ensure_covers(await session.get(Organisation, data.organisation_id))
    notice = Notice(
        organisation_id=data.organisation_id,
        title=data.title,
        status=data.status,
        public=data.public,
        created_by_id=principal.operator_id,
    )
    session.add(notice)
    await session.flush()
    first = await _append_update(
        session, principal, notice, UpdateIn(status=data.status, message=data.message)
    )
    await emit_notice_event(session, WebhookEvent.notice_created, notice, first)
    audit(
        session,
        principal,
        "notice.create",
        organisation_id=organisation.id,
        object_type="notice",
        object_id=notice.id,
    )
    return notice


async def get_notice(session: AsyncSession, principal: Principal, notice_id: int) -> Notice:
    notice = await session.get(Notice, notice_id)
    if notice is None:
        raise NotFound("Avis introuvable.", "Notice not found.")
    principal.ensure_covers(await session.get(Organisation, notice.organisation_id))
    return notice


async def list_notices(
    session: AsyncSession, principal: Principal, *, after: int = 0, limit: int = 50
) -> list[Notice]:
    rows = await session.execute(
        select(Notice)
        .join(Organisation, col(Organisation.id) == col(Notice.organisation_id))
        .where(col(Organisation.path).startswith(principal.scope_path), col(Notice.id) > after)
        .order_by(col(Notice.id))
        .limit(limit)
    )
    return list(rows.scalars())


async def add_update(
    session: AsyncSession, principal: Principal, notice: Notice, data: UpdateIn
) -> NoticeUpdate:
    """Append an update; subscribers get ``notice.updated``, and ``notice.resolved`` when it
    resolves the notice."""
    was_resolved = notice.status == NoticeStatus.resolved
    update = await _append_update(session, principal, notice, data)
    await emit_notice_event(session, WebhookEvent.notice_updated, notice, update)
    if data.status == NoticeStatus.resolved and not was_resolved:
        await emit_notice_event(session, WebhookEvent.notice_resolved, notice, update)
    return update


async def _append_update(
    session: AsyncSession, principal: Principal, notice: Notice, data: UpdateIn
) -> NoticeUpdate:
    update = NoticeUpdate(
        notice_id=row_id(notice),
        status=data.status,
        message=data.message,
        created_by_id=principal.operator_id,
    )
    notice.status = data.status
    notice.updated_at = utcnow()
    session.add(update)
    await session.flush()
    return update


async def change_status(
    session: AsyncSession, principal: Principal, notice: Notice, status: NoticeStatus
) -> Notice:
    if notice.status != status:
        notice.status = status
        notice.updated_at = utcnow()
        audit(
            session,
            principal,
            "notice.status",
            organisation_id=notice.organisation_id,
            object_type="notice",
            object_id=notice.id,
            details={"status": status},
        )
        if status == NoticeStatus.resolved:
            latest = await get_update(session, notice, None)
            await emit_notice_event(session, WebhookEvent.notice_resolved, notice, latest)
    return notice


async def list_updates(session: AsyncSession, notice: Notice) -> list[NoticeUpdate]:
    """The notice's updates, oldest first."""
    rows = await session.execute(
        select(NoticeUpdate)
        .where(col(NoticeUpdate.notice_id) == notice.id)
        .order_by(col(NoticeUpdate.id))
    )
    return list(rows.scalars())


async def get_update(session: AsyncSession, notice: Notice, update_id: int | None) -> NoticeUpdate:
    """The named update of the notice, or its latest one."""
    query = select(NoticeUpdate).where(col(NoticeUpdate.notice_id) == notice.id)
    if update_id is not None:
        query = query.where(col(NoticeUpdate.id) == update_id)
    update = (await session.execute(query.order_by(col(NoticeUpdate.id).desc()).limit(1))).scalar()
    if update is None:
        raise NotFound(
            "Mise à jour introuvable pour cet avis.", "Update not found for this notice."
        )
    return update

"""Notices and their updates. Services take a session and never commit."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.accounts.scoped import (
    get_within_scope,
    organisation_within_scope,
    select_within_scope,
)
from broadcast.accounts.service import Principal, audit
from broadcast.core.errors import NotFound
from broadcast.core.sqlutil import row_id
from broadcast.core.timeutil import utcnow
from broadcast.notices.catalogue import DEFAULT_CATALOGUE, ServiceCatalogue
from broadcast.notices.models import Notice, NoticeStatus, NoticeUpdate
from broadcast.notices.schemas import NoticeEdit, NoticeIn, UpdateIn
from broadcast.status.changes import status_changed
from broadcast.webhooks.events import emit_notice_event
from broadcast.webhooks.models import WebhookEvent


async def create_notice(
    session: AsyncSession,
    principal: Principal,
    data: NoticeIn,
    catalogue: ServiceCatalogue = DEFAULT_CATALOGUE,
) -> Notice:
    """``catalogue``: the services a notice may name (:func:`~broadcast.notices.catalogue.
    catalogue_of` the settings; the built-in six by default)."""
    organisation = await organisation_within_scope(session, principal, data.organisation_id)
    notice = Notice(
        organisation_id=data.organisation_id,
        title=data.title,
        status=data.status,
        public=data.public,
        is_exercise=data.is_exercise,
        services=catalogue.check(data.services),
        created_by_id=principal.operator_id,
    )
    session.add(notice)
    await session.flush()
    first = await _append_update(
        session,
        principal,
        notice,
        UpdateIn(status=data.status, message=data.message, next_update_at=data.next_update_at),
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
    not_found = NotFound("Avis introuvable.", "Notice not found.")
    return await get_within_scope(session, principal, Notice, notice_id, not_found)


async def list_notices(
    session: AsyncSession, principal: Principal, *, after: int = 0, limit: int = 50
) -> list[Notice]:
    rows = await session.execute(
        select_within_scope(principal, Notice)
        .where(col(Notice.id) > after)
        .order_by(col(Notice.id))
        .limit(limit)
    )
    return list(rows.scalars())


async def add_update(
    session: AsyncSession,
    principal: Principal,
    notice: Notice,
    data: UpdateIn,
    catalogue: ServiceCatalogue = DEFAULT_CATALOGUE,
) -> NoticeUpdate:
    """Append an update; subscribers get ``notice.updated``, and ``notice.resolved`` when it
    resolves the notice."""
    was_resolved = notice.status == NoticeStatus.resolved
    if data.services is not None:
        notice.services = catalogue.check(data.services)
    update = await _append_update(session, principal, notice, data)
    audit(
        session,
        principal,
        "notice.update",
        organisation_id=notice.organisation_id,
        object_type="notice",
        object_id=notice.id,
        details={"update_id": update.id, "status": update.status},
    )
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
    notice.next_update_at = None if data.status == NoticeStatus.resolved else data.next_update_at
    notice.updated_at = utcnow()
    session.add(update)
    await session.flush()
    status_changed(session, notice)
    return update


async def edit_notice(
    session: AsyncSession,
    principal: Principal,
    notice: Notice,
    data: NoticeEdit,
    catalogue: ServiceCatalogue = DEFAULT_CATALOGUE,
) -> Notice:
    """Publish or withdraw a notice, change its services or the time of its next update."""
    given = data.model_fields_set
    if "public" in given and data.public is not None:
        notice.public = data.public
    if "services" in given:
        notice.services = catalogue.check(data.services or [])
    if "next_update_at" in given:
        notice.next_update_at = data.next_update_at
    notice.updated_at = utcnow()
    audit(
        session,
        principal,
        "notice.edit",
        organisation_id=notice.organisation_id,
        object_type="notice",
        object_id=notice.id,
        details=data.model_dump(mode="json", include=given),
    )
    await session.flush()
    status_changed(session, notice)
    return notice


async def change_status(
    session: AsyncSession, principal: Principal, notice: Notice, status: NoticeStatus
) -> Notice:
    if notice.status != status:
        notice.status = status
        notice.updated_at = utcnow()
        if status == NoticeStatus.resolved:
            notice.next_update_at = None
        status_changed(session, notice)
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

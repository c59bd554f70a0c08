"""The send rules as services, without HTTP or workers: approval by a second operator, volume
caps and pause / resume (RULES A6). Each test reads the rows the services wrote."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlmodel import col

from broadcast.accounts.models import AuditEvent
from broadcast.accounts.service import Principal
from broadcast.audiences.criteria import AudienceCriteria
from broadcast.broadcasts import approval, control, service
from broadcast.broadcasts.caps import CapExceeded
from broadcast.broadcasts.models import Broadcast, BroadcastStatus
from broadcast.broadcasts.schemas import BroadcastIn
from broadcast.channels.base import ChannelName
from broadcast.core.db import SessionFactory, transaction
from broadcast.core.errors import Conflict
from broadcast.core.uow import pending_jobs
from broadcast.notices.schemas import NoticeIn
from broadcast.notices.service import create_notice
from broadcast.settings import Settings, VolumeCap
from tests.support import add_contacts, build_world, guardians, operator_principal


async def confirmed(
    factory: SessionFactory, settings: Settings, principal: Principal, organisation: int
) -> int:
    """A notice of ``organisation`` sent by email to its whole subtree; the broadcast's id."""
    async with transaction(factory) as session:
        notice = await create_notice(
            session,
            principal,
            NoticeIn(
                organisation_id=organisation, title="ENT indisponible", message="L'ENT est coupé."
            ),
        )
        draft = await service.create_draft(
            session,
            principal,
            BroadcastIn(
                notice_id=notice.id or 0,
                audience=AudienceCriteria(organisation_ids=[organisation]),
                channels=[ChannelName.email],
            ),
        )
        await service.confirm(session, principal, draft, settings)
        return draft.id or 0


async def broadcast_row(factory: SessionFactory, broadcast_id: int) -> Broadcast:
    async with factory() as session:
        found = await session.get(Broadcast, broadcast_id)
        assert found is not None
        return found


async def test_an_academie_wide_send_waits_for_a_second_operator_who_releases_it(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    await add_contacts(
        factory, guardians(world.school_x, 3) + guardians(world.school_z, 2, start=5)
    )
    officer = await operator_principal(factory, "officer")
    admin = await operator_principal(factory, "admin")
    broadcast_id = await confirmed(factory, settings, officer, world.academie)
    waiting = await broadcast_row(factory, broadcast_id)
    async with transaction(factory) as session:
        pending = await session.get(Broadcast, broadcast_id)
        assert pending is not None
        with pytest.raises(approval.OwnApproval):
            await approval.approve(session, officer, pending, settings)
        await approval.approve(session, admin, pending, settings)
    released = await broadcast_row(factory, broadcast_id)
    assert (waiting.status, waiting.approval_required) == (BroadcastStatus.pending_approval, True)
    assert waiting.estimated_recipients == 5
    assert released.status == BroadcastStatus.queued and released.queued_at is not None
    assert released.approved_by_id == admin.operator_id and not released.approval_override
    async with factory() as session:
        actions = (
            await session.execute(
                select(col(AuditEvent.action), col(AuditEvent.operator_id))
                .where(col(AuditEvent.object_type) == "broadcast")
                .order_by(col(AuditEvent.id))
            )
        ).all()
    assert [tuple(a) for a in actions] == [
        ("broadcast.approval_requested", officer.operator_id),
        ("broadcast.send", officer.operator_id),
        ("broadcast.approve", admin.operator_id),
    ]


async def test_a_send_over_the_hourly_cap_stays_a_draft(
    settings: Settings, factory: SessionFactory
) -> None:
    settings = settings.model_copy(
        update={"volume_caps": {"etablissement": VolumeCap(recipients_per_hour=5)}}
    )
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 3))
    head_x = await operator_principal(factory, "head_x")
    first = await confirmed(factory, settings, head_x, world.school_x)
    with pytest.raises(CapExceeded) as refused:
        await confirmed(factory, settings, head_x, world.school_x)
    async with factory() as session:
        statuses = (
            await session.execute(
                select(col(Broadcast.id), col(Broadcast.status)).order_by(col(Broadcast.id))
            )
        ).all()
    assert [tuple(s) for s in statuses] == [(first, BroadcastStatus.queued)]  # rolled back
    assert refused.value.status_code == 409 and "heure" in refused.value.message("fr")


async def test_pause_then_resume_before_the_fan_out_goes_back_to_the_queue(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 2))
    head_x = await operator_principal(factory, "head_x")
    broadcast_id = await confirmed(factory, settings, head_x, world.school_x)
    async with transaction(factory) as session:
        queued = await session.get(Broadcast, broadcast_id)
        assert queued is not None
        await control.pause(session, head_x, queued)
        with pytest.raises(Conflict):
            await control.pause(session, head_x, queued)
    paused = await broadcast_row(factory, broadcast_id)
    async with transaction(factory) as session:
        again = await session.get(Broadcast, broadcast_id)
        assert again is not None
        await control.resume(session, head_x, again, settings.dispatch_batch_size)
        asked = pending_jobs(session)
    resumed = await broadcast_row(factory, broadcast_id)
    assert paused.status == BroadcastStatus.paused and paused.paused_at is not None
    assert resumed.status == BroadcastStatus.queued and resumed.paused_at is None
    [fanout] = asked  # nothing was dispatched before the pause: the fan-out alone, tagged
    assert fanout.function == "fanout" and fanout.args[0] == broadcast_id
    assert "pause-" in fanout.job_id

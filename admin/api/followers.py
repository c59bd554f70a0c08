"""Followers of the public status pages: how many, and notifying them with a broadcast."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, status

from admin.api.answers import broadcast_answer
from admin.deps import SettingsDep, UowDep, locale_of, requires
from admin.idempotency import idempotent
from broadcast.accounts.permissions import Permission
from broadcast.accounts.service import Principal
from broadcast.broadcasts import service as broadcasts
from broadcast.broadcasts.schemas import BroadcastOut
from broadcast.core.validation import RowId
from broadcast.directory.service import get_organisation
from broadcast.notices.service import get_notice
from broadcast.status import followers
from broadcast.status.schemas import (
    FollowerCountsOut,
    FollowersOfferOut,
    NotifyFollowersIn,
    counts_out,
    offer_out,
)

router = APIRouter(tags=["status"])

OrganisationReader = Annotated[Principal, requires(Permission.organisations_read)]
NoticeReader = Annotated[Principal, requires(Permission.notices_read)]
Sender = Annotated[Principal, requires(Permission.broadcasts_send)]


@router.get("/organisations/{organisation_id}/followers", response_model=FollowerCountsOut)
async def follower_counts(
    uow: UowDep, principal: OrganisationReader, organisation_id: RowId
) -> FollowerCountsOut:
    """Browsers (web push) and email addresses following this organisation's status page."""
    organisation = await get_organisation(uow.session, principal, organisation_id)
    return counts_out(await followers.follower_counts(uow.session, organisation.id or 0))


@router.get("/notices/{notice_id}/followers", response_model=FollowersOfferOut)
async def followers_offer(
    request: Request, uow: UowDep, principal: NoticeReader, settings: SettingsDep, notice_id: RowId
) -> FollowersOfferOut:
    """What to offer once a public notice is published or updated: « Prévenir les abonnés (N) »."""
    notice = await get_notice(uow.session, principal, notice_id)
    offer = await followers.followers_offer(uow.session, notice, settings)
    action = f"/api/v1/notices/{notice_id}/notify-followers"
    return offer_out(offer, locale_of(request), action)


@router.post(
    "/notices/{notice_id}/notify-followers",
    status_code=status.HTTP_201_CREATED,
    response_model=BroadcastOut,
)
@idempotent
async def notify_followers(
    uow: UowDep, principal: Sender, settings: SettingsDep, notice_id: RowId, body: NotifyFollowersIn
) -> BroadcastOut:
    """A draft broadcast of the update to the page's followers, with its preview; confirm it
    with ``POST /broadcasts/{id}/confirm`` (caps, approval, audit, rate limits, as any send)."""
    notice = await get_notice(uow.session, principal, notice_id)
    draft = await followers.notify_followers_draft(
        uow.session, principal, notice, body.update_id, settings
    )
    preview = await broadcasts.preview(uow.session, principal, draft, settings)
    return await broadcast_answer(uow.session, draft, preview)

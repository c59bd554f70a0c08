"""Who follows a status page, and telling them: a broadcast like any other.

Notifying followers creates a draft broadcast of the notice's update to the audience "followers
of the notice's organisation and of those beneath it" (role ``follower``) on email and, where
web push is configured, push. Its preview, confirmation, volume caps, approval, audit, rate
limits and delivery ledger are those of every broadcast (:mod:`broadcast.broadcasts.service`):
there is no second pipeline. It is sent at normal priority, so that every email carries the
one-click unsubscribe (RULES E1).

A page's followers hear of the incidents shown on it that concern them: those of its own
organisation and of those above it (an académie incident reaches the followers of each school
page beneath it). A school's own incident does not reach the académie's followers.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.accounts.service import Principal
from broadcast.audiences.criteria import AudienceCriteria, matching_points, point_is_suppressed
from broadcast.broadcasts import service as broadcasts
from broadcast.broadcasts.models import Broadcast, Priority
from broadcast.broadcasts.schemas import BroadcastIn
from broadcast.channels.base import ChannelName
from broadcast.core.errors import Conflict
from broadcast.directory.models import Contact, ContactPoint, ContactRole, Organisation
from broadcast.notices.models import Notice
from broadcast.settings import Settings

FOLLOWER_CHANNELS = (ChannelName.email, ChannelName.push)


@dataclass(frozen=True, slots=True)
class FollowerCounts:
    """Addresses following one page, by channel (suppressed ones left out)."""

    organisation_id: int
    push: int
    email: int

    @property
    def total(self) -> int:
        return self.push + self.email


async def follower_counts(session: AsyncSession, organisation_id: int) -> FollowerCounts:
    """How many browsers and email addresses follow this organisation's own page."""
    rows = await session.execute(
        select(col(ContactPoint.channel), func.count(func.distinct(col(ContactPoint.address))))
        .join(Contact, col(Contact.id) == col(ContactPoint.contact_id))
        .where(
            col(Contact.organisation_id) == organisation_id,
            col(Contact.role) == ContactRole.follower,
            ~point_is_suppressed(),
        )
        .group_by(col(ContactPoint.channel))
    )
    counts = {str(channel): int(n) for channel, n in rows.all()}
    return FollowerCounts(organisation_id, counts.get("push", 0), counts.get("email", 0))


def follower_channels(settings: Settings) -> list[ChannelName]:
    """Email always; push only where a VAPID key is configured."""
    if settings.vapid_private_key is None:
        return [ChannelName.email]
    return list(FOLLOWER_CHANNELS)


def refuse_unless_public(notice: Notice) -> None:
    if not notice.public or notice.is_exercise:
        raise Conflict(
            "Seul un avis public, qui n'est pas un exercice, se signale aux abonnés des pages "
            "d'état des services.",
            "Only a public notice that is not an exercise can be sent to status page followers.",
        )


def followers_draft_input(notice: Notice, update_id: int | None, settings: Settings) -> BroadcastIn:
    return BroadcastIn(
        notice_id=notice.id or 0,
        update_id=update_id,
        audience=AudienceCriteria(
            organisation_ids=[notice.organisation_id], roles=[ContactRole.follower]
        ),
        channels=follower_channels(settings),
        priority=Priority.normal,
    )


async def notify_followers_draft(
    session: AsyncSession,
    principal: Principal,
    notice: Notice,
    update_id: int | None,
    settings: Settings,
) -> Broadcast:
    """A draft broadcast of the notice's update (the latest by default) to its followers;
    confirm it like any draft."""
    refuse_unless_public(notice)
    return await broadcasts.create_draft(
        session, principal, followers_draft_input(notice, update_id, settings)
    )


@dataclass(frozen=True, slots=True)
class FollowersOffer:
    """What the console offers once a public notice is published or updated."""

    notice_id: int
    offered: bool
    recipients: int
    """Distinct addresses a followers' broadcast would reach now (the académie's followers and
    its schools' together, each address once)."""
    page: FollowerCounts

    @property
    def label_fr(self) -> str:
        return f"Prévenir les abonnés ({self.recipients})"

    @property
    def label_en(self) -> str:
        return f"Notify followers ({self.recipients})"


async def followers_offer(
    session: AsyncSession, notice: Notice, settings: Settings
) -> FollowersOffer:
    organisation = await session.get(Organisation, notice.organisation_id)
    assert organisation is not None
    channels = [c.value for c in follower_channels(settings)]
    reached = await followers_reached(session, organisation, channels)
    public = notice.public and not notice.is_exercise
    return FollowersOffer(
        notice_id=notice.id or 0,
        offered=public and reached > 0,
        recipients=reached,
        page=await follower_counts(session, notice.organisation_id),
    )


async def followers_reached(
    session: AsyncSession, organisation: Organisation, channels: list[str]
) -> int:
    """Distinct (channel, address) of the followers of ``organisation`` and those beneath it,
    suppressed addresses left out: what the planner would deliver to."""
    criteria = AudienceCriteria(
        organisation_ids=[organisation.id or 0], roles=[ContactRole.follower]
    )
    points = matching_points(criteria, [organisation.path], channels, unsuppressed=True)
    distinct = points.with_only_columns(
        col(ContactPoint.channel), col(ContactPoint.address)
    ).distinct()
    return int(await session.scalar(select(func.count()).select_from(distinct.subquery())) or 0)

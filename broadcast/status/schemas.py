"""Input and output shapes of the followers' API: counts per page, the offer to notify them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from broadcast.core.validation import RowId
from broadcast.status.followers import FollowerCounts, FollowersOffer


class FollowerCountsOut(BaseModel):
    organisation_id: int
    push: int
    """Browsers following the page by web push."""
    email: int
    """Email addresses that confirmed their follow."""
    total: int


class FollowersOfferOut(BaseModel):
    notice_id: int
    offered: bool
    """True for a public notice (not an exercise) that at least one follower would receive."""
    recipients: int
    """Distinct addresses the followers' broadcast would reach (this page and those beneath)."""
    label: str
    """``Prévenir les abonnés (N)``, in the caller's language."""
    action: str
    """POST here to create the draft broadcast, then confirm it as any draft."""
    page: FollowerCountsOut


class NotifyFollowersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    update_id: RowId | None = None
    """The update to send; the notice's latest by default."""


def counts_out(counts: FollowerCounts) -> FollowerCountsOut:
    return FollowerCountsOut(
        organisation_id=counts.organisation_id,
        push=counts.push,
        email=counts.email,
        total=counts.total,
    )


def offer_out(offer: FollowersOffer, locale: str, action: str) -> FollowersOfferOut:
    return FollowersOfferOut(
        notice_id=offer.notice_id,
        offered=offer.offered,
        recipients=offer.recipients,
        label=offer.label_en if locale == "en" else offer.label_fr,
        action=action,
        page=counts_out(offer.page),
    )

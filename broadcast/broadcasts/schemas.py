"""Input and output shapes of broadcasts, follow-ups, changes and approvals; separate from the
table models and from the services, which take these inputs and return the table rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from broadcast.audiences.criteria import AudienceCriteria
from broadcast.audiences.preview import AudiencePreview
from broadcast.broadcasts.exercise import MAX_SEED_ADDRESSES
from broadcast.broadcasts.models import Broadcast, DeliveryMode, Priority
from broadcast.broadcasts.scheduling import ScheduledAt
from broadcast.channels.base import ChannelName
from broadcast.core.masking import address_tag, mask_address
from broadcast.core.validation import RowId, Text
from broadcast.deliveries.models import Delivery
from broadcast.directory.phones import normalise_phone


class ExerciseAddress(BaseModel):
    """One test address; email normalised, mobile number stored in E.164."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    channel: Literal["email", "sms"]
    address: Text = Field(min_length=1, max_length=320)

    @field_validator("address")
    @classmethod
    def _valid_address(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("channel") == "email":
            return _email(value)
        return _mobile(value)


def _email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError("adresse e-mail invalide") from exc


def _mobile(value: str) -> str:
    phone = normalise_phone(value)
    if phone is None or not phone.sms_capable:
        raise ValueError("numéro de mobile invalide (format E.164 attendu, ex. +33612345678)")
    return phone.e164


class BroadcastIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notice_id: RowId
    update_id: RowId | None = None
    audience: AudienceCriteria | None = None
    saved_audience_id: RowId | None = None
    """Instead of ``audience``: a saved audience's criteria, copied into the draft."""
    channels: list[ChannelName] = Field(min_length=1, max_length=3)
    priority: Priority = Priority.normal
    delivery_mode: DeliveryMode = DeliveryMode.every_channel
    """``first_available``: per contact, the first of ``channels`` (in this order) where the
    contact has an unsuppressed address."""
    is_exercise: bool = False
    exercise_addresses: list[ExerciseAddress] = Field(
        default_factory=list, max_length=MAX_SEED_ADDRESSES
    )
    """For an exercise only: when given, these addresses alone are reached (not the audience)."""
    scheduled_at: ScheduledAt | None = None
    """Naive means Europe/Paris; confirmation then schedules it instead of sending now."""

    @model_validator(mode="after")
    def _seed_list_only_for_exercises(self) -> BroadcastIn:
        if self.exercise_addresses and not self.is_exercise:
            raise ValueError("des adresses de test ne s'utilisent que pour un exercice")
        return self

    @model_validator(mode="after")
    def _one_audience(self) -> BroadcastIn:
        if (self.audience is None) == (self.saved_audience_id is None):
            raise ValueError("donnez soit une audience, soit une audience enregistrée")
        return self


class BroadcastOut(BaseModel):
    id: int
    notice_id: int
    update_id: int
    organisation_id: int
    audience: dict[str, Any]
    channels: list[str]
    priority: str
    delivery_mode: str = DeliveryMode.every_channel
    is_exercise: bool = False
    follow_up_of_id: int | None = None
    status: str
    created_at: datetime
    queued_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    scheduled_at: datetime | None = None
    estimated_contacts: int = 0
    """People reached, as the preview counts them (its ``contacts``)."""
    estimated_deliveries: int = 0
    """Messages sent, one per address and channel (the preview's ``deliveries``)."""
    estimated_sms_segments: int = 0
    approval_required: bool = False
    approved_by_id: int | None = None
    approved_at: datetime | None = None
    approval_override: bool = False
    rejected_by_id: int | None = None
    rejected_at: datetime | None = None
    rejection_reason: str | None = None
    paused_at: datetime | None = None
    held_reason: str | None = None
    """Why sending is held, in French ("en pause : le fournisseur refuse nos identifiants")."""
    counters: dict[str, dict[str, int]] = Field(default_factory=dict)
    totals: dict[str, int] = Field(default_factory=dict)
    """Deliveries per status, every channel together: what was sent, cancelled, is left."""
    preview: AudiencePreview | None = None
    """The draft's preview as computed now, or once confirmed the one recorded then."""


class DeliveryOut(BaseModel):
    id: int
    channel: str
    address: str
    """Masked (RULES R5)."""
    address_tag: str
    """Tells apart addresses whose masked forms are alike; the same contact, the same tag."""
    status: str
    attempts: int
    error: str | None
    updated_at: datetime


class FollowUpIn(BaseModel):
    """``update_id``: the notice's latest update when omitted; ``channels``: a subset of the
    earlier broadcast's (all of them when omitted); ``priority``: the earlier one's by default."""

    model_config = ConfigDict(extra="forbid")

    update_id: RowId | None = None
    channels: list[ChannelName] | None = Field(default=None, min_length=1, max_length=3)
    priority: Priority | None = None


class BroadcastPatch(BaseModel):
    """Only the fields given change; ``"scheduled_at": null`` removes the time (send now)."""

    model_config = ConfigDict(extra="forbid")

    scheduled_at: ScheduledAt | None = None
    audience: AudienceCriteria | None = None
    channels: list[ChannelName] | None = Field(default=None, min_length=1, max_length=3)


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text = Field(min_length=3, max_length=500)


def broadcast_out(
    broadcast: Broadcast,
    counters: dict[str, dict[str, int]],
    totals: dict[str, int],
    preview: AudiencePreview | None = None,
) -> BroadcastOut:
    """The broadcast with its deliveries counted per channel and status (from
    :func:`broadcast.broadcasts.service.counters` and ``totals``), and the preview: the one just
    computed, else the one recorded at confirmation."""
    out = BroadcastOut.model_validate(broadcast, from_attributes=True)
    out.counters = counters
    out.totals = totals
    out.preview = recorded_preview(broadcast) or preview
    out.estimated_deliveries = broadcast.estimated_recipients
    if out.preview is not None:
        out.estimated_contacts = out.preview.contacts
        out.estimated_deliveries = out.preview.deliveries
    return out


def recorded_preview(broadcast: Broadcast) -> AudiencePreview | None:
    recorded = broadcast.confirmed_preview
    return AudiencePreview.model_validate(recorded) if recorded is not None else None


def delivery_out(delivery: Delivery) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.id or 0,
        channel=delivery.channel,
        address=mask_address(delivery.channel, delivery.address),
        address_tag=address_tag(delivery.contact_id, delivery.channel, delivery.address),
        status=delivery.status,
        attempts=delivery.attempts,
        error=delivery.error,
        updated_at=delivery.updated_at,
    )

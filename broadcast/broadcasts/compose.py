"""Writing a send step by step (the console's « Rédiger »): a notice and its draft broadcast in
one step, then the draft's audience, its channels and options, then what « Vérifier » shows.

The first step writes the notice (from a template, an update of an open incident, or free
text) and a draft broadcast to the notice's organisation's families by email and SMS; the later
steps change that draft through :func:`broadcast.broadcasts.changes.change_broadcast`, so the
draft rows carry the state between pages. Nothing here commits, nothing here enqueues.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.accounts.scoped import covers, organisation_within_scope, select_within_scope
from broadcast.accounts.service import Principal
from broadcast.audiences.criteria import AudienceCriteria, for_notice, subtree_paths
from broadcast.audiences.preview import AudiencePreview
from broadcast.audiences.saved import get_saved_audience
from broadcast.broadcasts import service
from broadcast.broadcasts.caps import CapLeft, caps_left
from broadcast.broadcasts.changes import change_broadcast
from broadcast.broadcasts.models import Broadcast, BroadcastStatus, Priority, status_fr
from broadcast.broadcasts.recipient_counts import RecipientCounts
from broadcast.broadcasts.schemas import BroadcastIn, BroadcastPatch
from broadcast.broadcasts.sources import preview_recipients
from broadcast.channels import sms_text
from broadcast.channels.base import ChannelName, MessageContent
from broadcast.channels.email.sender import render_email_parts
from broadcast.channels.push.sender import render_push_payload
from broadcast.channels.sms.sender import render_sms_text, stop_number
from broadcast.core.errors import Conflict
from broadcast.core.timeutil import as_utc, utcnow
from broadcast.deliveries.dispatch import message_content
from broadcast.directory.models import ContactRole, Organisation
from broadcast.notices.catalogue import ServiceCatalogue
from broadcast.notices.models import Notice, NoticeStatus, NoticeUpdate
from broadcast.notices.schemas import FromTemplateIn, NoticeIn, UpdateIn
from broadcast.notices.service import add_update, create_notice, get_notice, get_update
from broadcast.notices.templates import find_template, notice_from_template
from broadcast.rendering import UNSUBSCRIBE_PLACEHOLDER, Renderer
from broadcast.settings import Settings
from broadcast.status.changes import status_changed

FIRST_ROLES = [ContactRole.guardian]
FIRST_CHANNELS = [ChannelName.email, ChannelName.sms]
"""A first draft reaches the families by email and SMS: what « Prévenir les familles » means."""


async def draft_from_template(
    session: AsyncSession,
    principal: Principal,
    data: FromTemplateIn,
    catalogue: ServiceCatalogue,
) -> Broadcast:
    """The template's notice for ``data.organisation_id`` and its first draft (a national
    template, or one of the organisation's académie)."""
    where = await organisation_within_scope(session, principal, data.organisation_id)
    template = await find_template(session, data.template, where)
    notice = await create_notice(
        session, principal, notice_from_template(template, data), catalogue
    )
    return await _first_draft(session, principal, notice, None)


async def draft_from_text(
    session: AsyncSession, principal: Principal, data: NoticeIn, catalogue: ServiceCatalogue
) -> Broadcast:
    notice = await create_notice(session, principal, data, catalogue)
    return await _first_draft(session, principal, notice, None)


async def draft_from_update(
    session: AsyncSession,
    principal: Principal,
    notice_id: int,
    data: UpdateIn,
    catalogue: ServiceCatalogue,
) -> Broadcast:
    """A new update of an open incident and its draft (404 outside the scope, 409 when the
    incident is already resolved)."""
    notice = await get_notice(session, principal, notice_id)
    if notice.status == NoticeStatus.resolved:
        raise Conflict(
            "Cet incident est déjà résolu : rédigez un nouvel avis.",
            "This incident is already resolved: write a new notice.",
        )
    update = await add_update(session, principal, notice, data, catalogue)
    return await _first_draft(session, principal, notice, update.id)


async def _first_draft(
    session: AsyncSession, principal: Principal, notice: Notice, update_id: int | None
) -> Broadcast:
    data = BroadcastIn(
        notice_id=notice.id or 0,
        update_id=update_id,
        audience=AudienceCriteria(organisation_ids=[notice.organisation_id], roles=FIRST_ROLES),
        channels=FIRST_CHANNELS,
        is_exercise=notice.is_exercise,
    )
    return await service.create_draft(session, principal, data)


async def open_incidents(session: AsyncSession, principal: Principal) -> list[Notice]:
    """The notices in scope not yet resolved, the latest first."""
    rows = await session.execute(
        select_within_scope(principal, Notice)
        .where(col(Notice.status) != NoticeStatus.resolved)
        .order_by(col(Notice.updated_at).desc(), col(Notice.id).desc())
        .limit(50)
    )
    return list(rows.scalars())


async def get_draft(session: AsyncSession, principal: Principal, broadcast_id: int) -> Broadcast:
    """The draft (404 outside the scope; 409 once it is no longer a draft)."""
    broadcast = await service.get_broadcast(session, principal, broadcast_id)
    if broadcast.status != BroadcastStatus.draft:
        raise Conflict(
            f"Cette diffusion est {status_fr(broadcast.status)} : elle ne se modifie plus.",
            f"This broadcast is {broadcast.status}: it can no longer be changed.",
        )
    return broadcast


async def set_audience(
    session: AsyncSession,
    principal: Principal,
    broadcast: Broadcast,
    criteria: AudienceCriteria | None,
    saved_audience_id: int | None,
    settings: Settings,
) -> None:
    """The criteria given, or a saved audience's (copied into the draft)."""
    if saved_audience_id is not None:
        saved = await get_saved_audience(session, principal, saved_audience_id)
        criteria = AudienceCriteria.model_validate(saved.criteria)
    assert criteria is not None
    await change_broadcast(
        session, principal, broadcast, BroadcastPatch(audience=criteria), settings
    )


async def audience_count(
    session: AsyncSession,
    principal: Principal,
    broadcast: Broadcast,
    criteria: AudienceCriteria | None = None,
) -> AudiencePreview:
    """What ``criteria`` (the draft's own by default) would reach on the draft's channels,
    counted as its preview counts, the draft left unchanged; 404 for an organisation outside
    the scope or the notice's subtree (RULES A1)."""
    notice = await get_notice(session, principal, broadcast.notice_id)
    if criteria is None:
        criteria = AudienceCriteria.model_validate(broadcast.audience)
    criteria = for_notice(criteria, public=notice.public)
    within = await session.get(Organisation, notice.organisation_id)
    assert within is not None
    paths = await subtree_paths(session, principal, criteria, within=within.path)
    return await preview_recipients(session, broadcast, criteria, paths)


@dataclass(frozen=True, slots=True)
class SendOptions:
    channels: list[ChannelName]
    priority: Priority
    is_exercise: bool
    scheduled_at: datetime | None


async def set_options(
    session: AsyncSession,
    principal: Principal,
    broadcast: Broadcast,
    options: SendOptions,
    settings: Settings,
) -> None:
    """Channels, time (None: now), priority and exercise mode of the draft."""
    patch = BroadcastPatch(channels=options.channels, scheduled_at=options.scheduled_at)
    await change_broadcast(session, principal, broadcast, patch, settings)
    broadcast.priority = options.priority
    broadcast.is_exercise = options.is_exercise


async def normalise_sms_punctuation(
    session: AsyncSession, principal: Principal, broadcast: Broadcast
) -> bool:
    """The opt-in normaliser (RULES S4) applied to the draft's notice title and update text:
    punctuation only, never letters. True when something changed."""
    notice = await get_notice(session, principal, broadcast.notice_id)
    update = await get_update(session, notice, broadcast.update_id)
    title = sms_text.normalise_punctuation(notice.title)
    message = sms_text.normalise_punctuation(update.message)
    changed = (title, message) != (notice.title, update.message)
    if changed:
        notice.title, update.message = title, message
        await session.flush()
        status_changed(session, notice)  # a public notice's pages show the new text
    return changed


@dataclass(frozen=True, slots=True)
class EmailView:
    subject: str
    text: str


@dataclass(frozen=True, slots=True)
class SmsView:
    text: str
    runs: list[tuple[str, bool]]
    """The text in runs, True where the characters force UCS-2 (highlighted)."""
    parts: int
    normalisable: bool
    """The normaliser would bring the text back to GSM-7 (or at least change it)."""


@dataclass(frozen=True, slots=True)
class PushView:
    title: str
    body: str


@dataclass(frozen=True, slots=True)
class Check:
    """What « Vérifier » shows before the send: counts, costs, approval, caps, each message."""

    broadcast: Broadcast
    notice: Notice
    update: NoticeUpdate
    preview: AudiencePreview
    email: EmailView | None
    sms: SmsView | None
    push: PushView | None
    caps: list[CapLeft]
    typed_confirmation: bool
    """Above ``console_confirm_typed_above`` recipients, the sender types their number."""

    @property
    def recipients(self) -> int:
        return self.preview.deliveries

    def recipients_on(self, channel: str) -> int:
        return next((c.recipients for c in self.preview.channels if c.channel == channel), 0)

    @property
    def shown(self) -> str:
        """The recipients per channel as the page shows them (``email:51030,sms:48212``): the
        page posts them back, and the send is refused when they are no longer true."""
        return ",".join(f"{c.channel}:{c.recipients}" for c in self.preview.channels)


async def check(
    session: AsyncSession,
    principal: Principal,
    broadcast: Broadcast,
    settings: Settings,
    counts: RecipientCounts | None = None,
    *,
    recount: bool = False,
) -> Check:
    """The preview of the service (recipients and exclusions per channel, SMS estimate,
    durations, approval reasons), the caps left within the reader's scope, and each message
    rendered as its recipient will see it, in French. With ``counts``, the recipients may be
    those counted a few seconds ago for the same draft (what the page shows again), or
    counted now and kept there with ``recount`` (what the send button confirms)."""
    notice = await get_notice(session, principal, broadcast.notice_id)
    update = await get_update(session, notice, broadcast.update_id)
    renderer = Renderer()
    preview = await service.preview(
        session, principal, broadcast, settings, renderer, counts, recount=recount
    )
    content = await message_content(session, broadcast)
    at = as_utc(broadcast.scheduled_at) if broadcast.scheduled_at else utcnow()
    visible = lambda organisation: covers(principal.scope_path, organisation.path)  # noqa: E731
    return Check(
        broadcast=broadcast,
        notice=notice,
        update=update,
        preview=preview,
        email=_email_view(renderer, content) if "email" in broadcast.channels else None,
        sms=_sms_view(renderer, content, settings) if "sms" in broadcast.channels else None,
        push=_push_view(renderer, content) if "push" in broadcast.channels else None,
        caps=await caps_left(session, settings, broadcast, at, visible),
        typed_confirmation=preview.deliveries > settings.console_confirm_typed_above,
    )


def _email_view(renderer: Renderer, content: MessageContent) -> EmailView:
    parts = render_email_parts(renderer, content, "fr")
    text = parts["text"].replace(UNSUBSCRIBE_PLACEHOLDER, "(lien de désinscription)")
    return EmailView(subject=" ".join(parts["subject"].split()), text=text.strip())


def _sms_view(renderer: Renderer, content: MessageContent, settings: Settings) -> SmsView:
    text = render_sms_text(renderer, content, "fr", stop_number(settings))
    return SmsView(
        text=text,
        runs=sms_text.ucs2_runs(text),
        parts=len(sms_text.split_parts(text)),
        normalisable=sms_text.normalise_punctuation(text) != text,
    )


def _push_view(renderer: Renderer, content: MessageContent) -> PushView:
    payload = render_push_payload(renderer, content, "fr")
    return PushView(title=str(payload["title"]), body=str(payload["body"]))

"""The one interface every channel implements, and the result shape every send returns.

A channel renders a message once per (template, locale) with :meth:`Channel.prepare`, then
personalises it cheaply per recipient inside :meth:`Channel.send`. Every failure comes back as a
:class:`SendResult` classified ``transient`` (retry with backoff) or ``permanent`` (mark failed,
suppress the address where that is the rule); nothing is raised for a single recipient.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from broadcast.directory.naming import short_name, without_leading_name, wording
from broadcast.rendering import PlainValue
from broadcast.settings import RateLimit


class ChannelName(enum.StrEnum):
    email = "email"
    sms = "sms"
    push = "push"


# Channels a broadcast may use. A worker without an account for a channel (no Twilio account,
# no VAPID key) fails that channel's deliveries permanently (see deliveries.dispatch).
AVAILABLE_CHANNELS = frozenset({ChannelName.email, ChannelName.sms, ChannelName.push})


class Outcome(enum.StrEnum):
    sent = "sent"
    transient = "transient"
    permanent = "permanent"


@dataclass(frozen=True, slots=True)
class MessageContent:
    """What a broadcast says, independent of channel and recipient."""

    notice_id: int
    notice_title: str
    notice_status: str
    update_message: str
    organisation_name: str
    urgent: bool
    public_url: str | None = None
    exercise: bool = False
    """An exercise: every channel prefixes what it sends with "EXERCICE"."""
    organisation_kind: str | None = None
    organisation_school_type: str | None = None
    """With the name, what the French article depends on (:mod:`broadcast.directory.naming`)."""
    follow_up: bool = False
    """A later update of the notice: messages read as the update ("Résolu : ..."), not as the
    incident its title names."""

    def wording_context(self) -> dict[str, PlainValue]:
        """What every channel's template may use to name the sender and the news:
        ``organisation_label`` ("Collège Pasteur", short, for an SMS or a subject),
        ``of_organisation`` ("du collège Pasteur"), ``notice_headline`` (the title without a
        leading school name, as the label already gives it) and ``follow_up``."""
        named = wording(
            self.organisation_name, self.organisation_kind, self.organisation_school_type
        )
        headline = without_leading_name(
            self.notice_title,
            self.organisation_name,
            short_name(self.organisation_name),
            named.label,
        )
        return {
            "organisation_label": named.label,
            "of_organisation": named.of,
            "notice_headline": headline,
            "follow_up": self.follow_up,
        }


@dataclass(frozen=True, slots=True)
class Recipient:
    delivery_id: int
    address: str
    locale: str


@dataclass(frozen=True, slots=True)
class SendResult:
    delivery_id: int
    outcome: Outcome
    provider_message_id: str | None = None
    error: str | None = None
    suppress: bool = False
    """True when the address must not be written to again (hard bounce, invalid number...)."""


@dataclass(slots=True)
class Prepared:
    """A message rendered once for one locale; channels keep what they need in ``parts``."""

    locale: str
    parts: dict[str, Any] = field(default_factory=dict)


class Channel(ABC):
    """A delivery channel: one per transport, each with its provider accounts and limits."""

    name: ClassVar[ChannelName]

    @abstractmethod
    async def start(self) -> None:
        """Open long-lived provider connections (called once per worker)."""

    @abstractmethod
    async def close(self) -> None:
        """Close what :meth:`start` opened."""

    @abstractmethod
    def prepare(self, content: MessageContent, locale: str) -> Prepared:
        """Render ``content`` for ``locale``; called once per batch and locale."""

    @abstractmethod
    async def send(self, prepared: Prepared, recipient: Recipient) -> SendResult:
        """Send one personalised message; never raises for a provider failure."""

    @property
    @abstractmethod
    def concurrency(self) -> int:
        """How many sends may be in flight at once from one worker."""

    @abstractmethod
    def rate_limits(self) -> list[tuple[str, RateLimit]]:
        """Buckets (key, limit) a send takes a token from: the channel's and the account's."""

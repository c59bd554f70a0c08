"""The one interface every channel implements, and the shapes it hands back to the ledger.

A channel renders a message once per (template, locale) with :meth:`Channel.prepare`, then
personalises it cheaply per recipient inside :meth:`Channel.send`. Every failure comes back as a
:class:`SendResult` classified ``transient`` (retry with backoff) or ``permanent`` (mark failed,
suppress the address where that is the rule); nothing is raised for a single recipient.

A channel never opens a transaction: what it needs per recipient beyond the address is read by
:meth:`Channel.load_targets` in the dispatcher's session, and what a send implies for the
directory or the operator travels back in the :class:`SendResult` for the ledger to apply. What a
provider's status callback says is parsed by the provider's package into one shape,
:class:`ProviderStatus`, which :mod:`broadcast.deliveries.provider_status` applies.

Each channel declares its provider's limits as class attributes (as apprise's plugins do):
``default_rate``, the pace it is sent at when the settings configure none (None: unlimited, by
choice, said in the log at start-up), and the largest body it may send.
"""

from __future__ import annotations

import enum
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sqlalchemy.ext.asyncio import AsyncSession

from broadcast.deliveries.models import DeliveryStatus
from broadcast.directory.naming import short_name, without_leading_name, wording
from broadcast.ratelimit import RateLimit
from broadcast.rendering import PlainValue

log = logging.getLogger(__name__)


class ChannelName(enum.StrEnum):
    email = "email"
    sms = "sms"
    push = "push"


def channel_names(channels: Iterable[ChannelName]) -> list[str]:
    """The channels' names, each once, in the order given. Every channel may be asked for: a
    worker without an account for one (no Twilio account, no VAPID key) fails its deliveries
    permanently (see deliveries.dispatch)."""
    return list(dict.fromkeys(channel.value for channel in channels))


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
    target: Any = None
    """What :meth:`Channel.load_targets` read for ``address`` (a push subscription), if anything."""


@dataclass(frozen=True, slots=True)
class OperatorAlert:
    """An entry for the operator in the audit log, written with the results (no personal data)."""

    action: str
    details: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class SendResult:
    delivery_id: int
    outcome: Outcome
    provider_message_id: str | None = None
    error: str | None = None
    suppress: bool = False
    """True when the address must not be written to again (hard bounce, invalid number, a push
    subscription gone): the directory suppresses or deletes it (see directory.reachability)."""
    alert: OperatorAlert | None = None
    """Something the operator must act on (refused credentials), recorded in the audit log."""
    held: str | None = None
    """Set (with a transient outcome) when the provider account is paused: why, in French
    (:mod:`broadcast.channels.health`); the delivery waits, the broadcast says so."""
    account: str | None = None
    """The provider account that answered (the relay or Twilio account's name)."""
    retry_after_s: float | None = None
    """The provider's ``Retry-After`` (a 429 or 503), in seconds: the dispatcher holds the
    channel's sends that long (bounded) rather than its fixed pause."""


@dataclass(frozen=True, slots=True)
class ProviderStatus:
    """What a provider's status callback says about one message, in the ledger's terms: every
    provider's callback is parsed into this one shape (novu-style)."""

    provider_message_id: str
    status: DeliveryStatus
    error: str | None = None
    suppress_reason: str | None = None
    """Suppress the address with this reason (a number that can never receive, a STOP)."""
    moves: bool = True
    """False when the news leaves the delivery as it is (e.g. Twilio 30003: a later send
    tries the number again); a suppression still applies."""


@dataclass(frozen=True, slots=True)
class OptOut:
    """A recipient's own word through the provider: ``stop`` opts ``address`` out of
    ``channel``, otherwise back in (an SMS STOP or START)."""

    channel: ChannelName
    address: str
    stop: bool


@dataclass(slots=True)
class Prepared:
    """A message rendered once for one locale; channels keep what they need in ``parts``."""

    locale: str
    parts: dict[str, Any] = field(default_factory=dict)


DEFAULT_CONCURRENCY = 100


class Channel(ABC):
    """A delivery channel: one per transport, each with its provider accounts and limits."""

    name: ClassVar[ChannelName]
    default_rate: ClassVar[RateLimit | None]
    """The pace of one provider account whose settings name no rate; None: unlimited."""
    status_callbacks: ClassVar[bool] = False
    """Whether the provider calls back with statuses (kept when they come before the id)."""

    @abstractmethod
    async def start(self) -> None:
        """Open long-lived provider connections (called once per worker)."""

    @abstractmethod
    async def close(self) -> None:
        """Close what :meth:`start` opened."""

    @abstractmethod
    def prepare(self, content: MessageContent, locale: str) -> Prepared:
        """Render ``content`` for ``locale``; called once per batch and locale."""

    async def load_targets(self, session: AsyncSession, addresses: Sequence[str]) -> dict[str, Any]:
        """What sending to ``addresses`` needs beyond the address (a push subscription's endpoint
        and keys), read in the dispatcher's session once per group and handed to :meth:`send` as
        :attr:`Recipient.target`. By default the address is enough."""
        return {}

    @abstractmethod
    async def send(self, prepared: Prepared, recipient: Recipient) -> SendResult:
        """Send one personalised message; never raises for a provider failure."""

    @abstractmethod
    def rate_limits(self) -> list[tuple[str, RateLimit]]:
        """Buckets (key, limit) a send takes a token from: the channel's and the account's."""

    def concurrency(self) -> int:
        """How many sends a worker has in flight at once: as many as the connections it keeps
        to the provider (aiohttp's default pool of 100, unless the channel says otherwise)."""
        return DEFAULT_CONCURRENCY


def rate_or_default(
    channel: type[Channel], configured: RateLimit | None, account: str
) -> RateLimit | None:
    """``configured``, or the provider's declared default, said in the log: an account sent
    at the provider's default pace is a choice the operator sees, not an accident."""
    if configured is not None:
        return configured
    default = channel.default_rate
    pace = f"{default.rate:g}/s, burst {default.burst}" if default is not None else "unlimited"
    log.info(
        "%s %s: no rate configured: using the provider default (%s)", channel.name, account, pace
    )
    return default

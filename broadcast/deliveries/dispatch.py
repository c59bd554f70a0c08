"""Dispatch one batch of deliveries through its channel, under the shared rate limiter.

The batch is sent in groups: each group is claimed (``sending``) in one transaction, sent
concurrently through the channel's pooled client, and its results recorded in one statement.
Transient failures go back to ``queued`` and the whole batch asks to run again later
(:class:`RetryLater`, with exponential backoff and jitter) until the broadcast's retry deadline,
after which they fail. A re-run re-reads the ledger and sends only what is still open (D3).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.broadcasts.models import Broadcast, BroadcastStatus, Priority
from broadcast.channels.base import (
    Channel,
    MessageContent,
    Outcome,
    Prepared,
    Recipient,
    SendResult,
)
from broadcast.core.db import SessionFactory, transaction
from broadcast.core.metrics import MESSAGES, PROVIDER_LATENCY, RATE_LIMIT_WAIT, timed
from broadcast.core.outages import is_outage
from broadcast.core.priority_gate import PriorityGate
from broadcast.core.timeutil import as_utc, utcnow
from broadcast.core.uow import Enqueuer
from broadcast.deliveries.early_status import EarlyStatuses
from broadcast.deliveries.ledger import (
    PendingDelivery,
    cancel_queued,
    claim,
    complete_if_done,
    count_open,
    fail_open,
    record_results,
    renew_claims,
)
from broadcast.deliveries.models import OPEN_STATUSES, Delivery
from broadcast.deliveries.timings import BroadcastTimings
from broadcast.directory.models import Organisation
from broadcast.jobs import DispatchBatch
from broadcast.notices.models import Notice, NoticeUpdate
from broadcast.ratelimit import RateLimit, RateLimiter, RateLimitTimeout
from broadcast.webhooks.events import emit_broadcast_event
from broadcast.webhooks.models import WebhookEvent

log = logging.getLogger(__name__)

GROUP_SIZE = 100
PROVIDER_PAUSE_S = 1.0
"""How long a channel's sends are held after a whole group failed transiently."""
MAX_RETRY_AFTER_S = 300.0
"""The longest a provider's ``Retry-After`` holds a channel's sends (a bogus one days away
would stop them for days)."""
RECORD_RETRY_FIRST_S = 0.2
RECORD_RETRY_MAX_S = 2.0
_NO_ACCOUNT = {"sms": "aucun compte SMS configuré"}


def group_size(buckets: Sequence[tuple[str, RateLimit]]) -> int:
    """Deliveries claimed and sent together: tokens for a whole group are taken before it is
    claimed, so a group never exceeds a bucket's burst and little is ``sending`` at a time."""
    return min([GROUP_SIZE, *(limit.burst for _, limit in buckets)])


def provider_pause(results: Sequence[SendResult], outcomes: Counter[Outcome]) -> float:
    """How long the channel's sends are held after a group: the provider's longest
    ``Retry-After`` (at most :data:`MAX_RETRY_AFTER_S`), else :data:`PROVIDER_PAUSE_S` when it
    refused everything (429, down), else not at all."""
    asked = [r.retry_after_s for r in results if r.retry_after_s is not None]
    if asked:
        return min(max(asked), MAX_RETRY_AFTER_S)
    return PROVIDER_PAUSE_S if outcomes and set(outcomes) == {Outcome.transient} else 0.0


class _PreparedByLocale(dict[str, Prepared]):
    """The message rendered and MIME-encoded once per locale for a whole run of a batch, not
    once per group: a render measured ~5 ms, 0.2 ms a message at 50 a group and 2 locales."""

    def __init__(self, channel: Channel, content: MessageContent) -> None:
        super().__init__()
        self._channel, self._content = channel, content

    def __missing__(self, locale: str) -> Prepared:
        self[locale] = prepared = self._channel.prepare(self._content, locale)
        return prepared


class _Ended(enum.Enum):
    done = "done"
    out_of_time = "out_of_time"
    stopped = "stopped"


class RetryLater(Exception):
    def __init__(self, delay_s: float, pending: int) -> None:
        super().__init__(f"{pending} deliveries to retry in {delay_s:.1f} s")
        self.delay_s = delay_s


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_delay_s: float
    max_delay_s: float
    deadline_s: float

    def delay(self, attempt: int) -> float:
        """Exponential backoff with jitter: half to all of base * 2^(attempt-1), capped."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** max(attempt - 1, 0))
        return float(ceiling * random.uniform(0.5, 1.0))


@dataclass(frozen=True, slots=True)
class Dispatcher:
    """``stale_claim_s``: a claim older than this belongs to a dead job (a live one renews its
    claims while it sends, and cannot outlive the job timeout). ``time_budget_s``: a run stops
    after this and continues as a new try, so a slow, rate-limited batch never reaches the job
    timeout (which arq does not retry, RULES D4)."""

    factory: SessionFactory
    channels: Mapping[str, Channel]
    limiter: RateLimiter
    retry: RetryPolicy
    stale_claim_s: float
    time_budget_s: float
    queue: Enqueuer | None = None
    """Enqueues the webhooks a completion emits; without it the recovery sweep finds them."""
    early_statuses: EarlyStatuses | None = None
    """Applies the Twilio callbacks that came before their SID, once the SIDs are recorded."""
    timings: BroadcastTimings | None = None
    """Observes each broadcast's time to its first message and to 95 % of them (metrics)."""
    gates: dict[str, PriorityGate] = field(init=False)
    """Per channel, this worker's sends in flight, urgent ones let through first."""

    def __post_init__(self) -> None:
        gates = {
            name: PriorityGate(channel.concurrency()) for name, channel in self.channels.items()
        }
        object.__setattr__(self, "gates", gates)  # frozen: set once, here

    async def run(self, batch: DispatchBatch, attempt: int = 1) -> None:
        """Send what is still open in ``batch``; raise RetryLater while some remains open."""
        if batch.channel not in self.channels:
            await self._fail_unsendable(batch)
            return
        async with transaction(self.factory) as session:
            loaded = await _load(session, batch)
        if loaded is None:
            await self._settle_if_cancelled(batch.broadcast_id)
            return
        broadcast, content, pending_ids = loaded
        wait_s = 0.0
        try:
            ended = await self._send_groups(batch, broadcast, content, pending_ids)
        except RateLimitTimeout as timeout:  # tokens come after this run's budget: the next
            ended, wait_s = _Ended.out_of_time, timeout.retry_after  # try comes when they do
        if ended == _Ended.stopped:
            await self._settle_if_cancelled(batch.broadcast_id)
            return
        async with transaction(self.factory, self.queue) as session:
            completed = await complete_if_done(session, batch.broadcast_id)
            still_open = await count_open(session, batch)
        if completed is not None:
            await self.observe_completion(completed)
        if still_open:
            delay = wait_s if ended == _Ended.out_of_time else self.retry.delay(attempt)
            raise RetryLater(delay, still_open)

    async def observe_completion(self, broadcast: Broadcast) -> None:
        """A broadcast just completed, by one of its dispatch jobs or by its fan-out (when its
        messages had all left before the last chunk was planned): its time to 95 % sent goes in
        the metrics."""
        if self.timings is not None:
            await self.timings.completed(broadcast.id or 0, broadcast.priority, broadcast.queued_at)

    async def make_way_for(self, broadcast_id: int) -> None:
        """An urgent broadcast about to be planned: bulk sends on its channels yield from now,
        not only from its first group's tokens (the planning and the first claim took most of
        its first second while the bulk sent at full speed beside it)."""
        async with transaction(self.factory) as session:
            broadcast = await session.get(Broadcast, broadcast_id)
        if broadcast is None or broadcast.priority != Priority.urgent:
            return
        channels = [self.channels[name] for name in broadcast.channels if name in self.channels]
        await self.limiter.make_way([b for channel in channels for b in channel.rate_limits()])

    async def _settle_if_cancelled(self, broadcast_id: int) -> None:
        """The job ends without a retry when its broadcast is paused or cancelled (resume
        enqueues what is left). Once cancelled, a transient failure recorded after the cancel
        must not leave a delivery ``queued``: it is cancelled too."""
        async with transaction(self.factory) as session:
            status = await session.scalar(
                select(col(Broadcast.status)).where(col(Broadcast.id) == broadcast_id)
            )
            if status == BroadcastStatus.cancelled:
                await cancel_queued(session, broadcast_id)

    async def _fail_unsendable(self, batch: DispatchBatch) -> None:
        """No provider account for this channel on this worker: waiting would not help."""
        error = _NO_ACCOUNT.get(batch.channel, f"aucun compte {batch.channel} configuré")
        async with transaction(self.factory, self.queue) as session:
            failed = await fail_open(session, batch, error)
            completed = await complete_if_done(session, batch.broadcast_id)
        if completed is not None:
            await self.observe_completion(completed)
        if failed:
            log.warning(
                "broadcast %s: %d %s deliveries failed: %s",
                batch.broadcast_id,
                failed,
                batch.channel,
                error,
            )

    async def _send_groups(
        self,
        batch: DispatchBatch,
        broadcast: Broadcast,
        content: MessageContent,
        pending_ids: Sequence[int],
    ) -> _Ended:
        """Send group after group, until done, out of time, or the broadcast stopped."""
        past_deadline = utcnow() > as_utc(broadcast.queued_at or utcnow()) + timedelta(
            seconds=self.retry.deadline_s
        )
        stop_at = time.monotonic() + self.time_budget_s
        size = group_size(self.channels[batch.channel].rate_limits())
        prepared = _PreparedByLocale(self.channels[batch.channel], content)
        for start in range(0, len(pending_ids), size):
            if time.monotonic() > stop_at:
                return _Ended.out_of_time
            group = pending_ids[start : start + size]
            going_on = await self._send_group(
                batch, broadcast, prepared, group, past_deadline, stop_at
            )
            if not going_on:
                return _Ended.stopped
        return _Ended.done

    async def _send_group(
        self,
        batch: DispatchBatch,
        broadcast: Broadcast,
        prepared: _PreparedByLocale,
        ids: Sequence[int],
        past_deadline: bool,
        stop_at: float,
    ) -> bool:
        """Claim, send and record one group; False once the broadcast is no longer sending
        (paused or cancelled: the claim re-reads its status, so no group starts after that)."""
        channel = self.channels[batch.channel]
        urgent = broadcast.priority == Priority.urgent
        with timed(RATE_LIMIT_WAIT, batch.channel):
            await self.limiter.acquire(
                channel.rate_limits(),
                n=len(ids),
                deadline=stop_at,
                urgent=urgent,
                hold=batch.channel,
            )
        stale_before = utcnow() - timedelta(seconds=self.stale_claim_s)
        async with transaction(self.factory) as session:
            claimed = await claim(session, batch.broadcast_id, ids, stale_before)
            addresses = [d.address for d in claimed]
            targets = await channel.load_targets(session, addresses) if claimed else {}
        if not claimed:
            return not await self._stopped(batch.broadcast_id)
        renewing = asyncio.ensure_future(self._renew_claims([d.id for d in claimed]))
        try:
            results = await self._send_all(
                batch.channel, channel, prepared, claimed, targets, urgent
            )
        finally:
            renewing.cancel()
        outcomes = Counter(result.outcome for result in results)
        await self._count(batch.channel, broadcast, outcomes)
        await self._record(batch.channel, results, claimed, past_deadline)
        await self._say_if_held(broadcast, results)
        if self.early_statuses is not None and channel.status_callbacks:
            await self.early_statuses.apply_recorded(self.factory, batch.channel, results)
        pause_s = provider_pause(results, outcomes)
        if pause_s > 0:  # every worker waits rather than bouncing deliveries at full rate
            await self.limiter.hold(batch.channel, pause_s)
        return True

    async def _say_if_held(self, broadcast: Broadcast, results: Sequence[SendResult]) -> None:
        """Write on the broadcast why its sending is held (no account of the channel would
        send: their credentials refused...), alerting webhook subscribers; clear it once
        messages go out again. Written only when it changes."""
        held = next((r.held for r in results if r.held is not None), None)
        sent = any(r.outcome == Outcome.sent for r in results)
        reason = None if sent else (held or broadcast.held_reason)
        if reason == broadcast.held_reason:
            return
        async with transaction(self.factory, self.queue) as session:
            row = await session.get(Broadcast, broadcast.id, with_for_update=True)
            if row is None:
                return
            row.held_reason = reason
            if reason is not None:
                await emit_broadcast_event(session, WebhookEvent.broadcast_held, row)
        broadcast.held_reason = reason
        log.warning("broadcast %s: %s", broadcast.id, reason or "sending again")

    async def _renew_claims(self, ids: Sequence[int]) -> None:
        """While a group is being sent, renew its claims every third of ``stale_claim_s``: a
        live job's claims never look stale, so another job may take over a claim as soon as
        it is that old, and a killed worker's deliveries are sent again within seconds."""
        while True:
            await asyncio.sleep(self.stale_claim_s / 3)
            try:
                async with transaction(self.factory) as session:
                    await renew_claims(session, ids)
            except Exception as exc:
                if not is_outage(exc):
                    raise
                log.warning("claims of %d deliveries not renewed (%s)", len(ids), exc)

    async def _record(
        self,
        channel: str,
        results: Sequence[SendResult],
        claimed: Sequence[PendingDelivery],
        past_deadline: bool,
    ) -> None:
        """Record what the provider answered, waiting out a short database outage (a restart):
        the messages are out, and results lost here would send them again once their claims
        went stale. Gives up after half the time budget, leaving them to that."""
        give_up_at = time.monotonic() + self.time_budget_s / 2
        delay = RECORD_RETRY_FIRST_S
        while True:
            try:
                async with transaction(self.factory, self.queue) as session:
                    await record_results(
                        session,
                        channel,
                        results,
                        {d.id: d.address for d in claimed},
                        past_deadline=past_deadline,
                    )
                return
            except Exception as exc:
                if not is_outage(exc) or time.monotonic() + delay > give_up_at:
                    raise
                log.warning("%d %s results not recorded yet (%s)", len(results), channel, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECORD_RETRY_MAX_S)

    async def _count(self, channel: str, broadcast: Broadcast, outcomes: Counter[Outcome]) -> None:
        """The group's outcomes in the metrics, once per group rather than per message; before
        they are recorded in the ledger, so whoever completes the broadcast reads this group's
        note among its timings."""
        for outcome, count in outcomes.items():
            MESSAGES.labels(channel, outcome).inc(count)
        if self.timings is not None:
            await self.timings.record_sent(
                broadcast.id or 0, broadcast.priority, broadcast.queued_at, outcomes[Outcome.sent]
            )

    async def _send_all(
        self,
        name: str,
        channel: Channel,
        prepared: _PreparedByLocale,
        claimed: Sequence[PendingDelivery],
        targets: Mapping[str, Any],
        urgent: bool,
    ) -> list[SendResult]:
        gate = self.gates[name]

        async def send_one(delivery: PendingDelivery) -> SendResult:
            target = targets.get(delivery.address)
            recipient = Recipient(delivery.id, delivery.address, delivery.locale, target)
            async with gate.slot(urgent):
                with timed(PROVIDER_LATENCY, name):
                    return await channel.send(prepared[delivery.locale], recipient)

        return list(await asyncio.gather(*(send_one(d) for d in claimed)))

    async def _stopped(self, broadcast_id: int) -> bool:
        async with transaction(self.factory) as session:
            status = await session.scalar(
                select(col(Broadcast.status)).where(col(Broadcast.id) == broadcast_id)
            )
        return status != BroadcastStatus.sending


async def _load(
    session: AsyncSession, batch: DispatchBatch
) -> tuple[Broadcast, MessageContent, list[int]] | None:
    broadcast = await session.get(Broadcast, batch.broadcast_id)
    if broadcast is None or broadcast.status != BroadcastStatus.sending:
        return None
    ids = (
        (
            await session.execute(
                select(col(Delivery.id))
                .where(
                    col(Delivery.broadcast_id) == batch.broadcast_id,
                    col(Delivery.channel) == batch.channel,
                    col(Delivery.id).between(batch.first_id, batch.last_id),
                    col(Delivery.status).in_(OPEN_STATUSES),
                )
                .order_by(col(Delivery.id))
            )
        )
        .scalars()
        .all()
    )
    if not ids:
        return None
    return broadcast, await message_content(session, broadcast), [int(i) for i in ids if i]


async def message_content(session: AsyncSession, broadcast: Broadcast) -> MessageContent:
    notice = await session.get(Notice, broadcast.notice_id)
    update_row = await session.get(NoticeUpdate, broadcast.update_id)
    organisation = await session.get(Organisation, broadcast.organisation_id)
    assert notice is not None and update_row is not None and organisation is not None
    return MessageContent(
        notice_id=notice.id or 0,
        notice_title=notice.title,
        notice_status=update_row.status,
        update_message=update_row.message,
        organisation_name=organisation.name,
        urgent=broadcast.priority == Priority.urgent,
        exercise=broadcast.is_exercise,
        organisation_kind=organisation.kind,
        organisation_school_type=organisation.school_type,
        follow_up=broadcast.follow_up_of_id is not None
        or await _is_later_update(session, update_row),
    )


async def _is_later_update(session: AsyncSession, update_row: NoticeUpdate) -> bool:
    """Whether the notice had an update before this one (the first one tells the incident)."""
    first = await session.scalar(
        select(func.min(col(NoticeUpdate.id))).where(
            col(NoticeUpdate.notice_id) == update_row.notice_id
        )
    )
    return first is not None and first != update_row.id

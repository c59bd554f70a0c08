"""arq tasks: thin wrappers that pass ids to the services of broadcast/."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from arq import Retry

from broadcast.accounts.alerts import notify_platform_admins
from broadcast.accounts.idempotency import purge_expired
from broadcast.broadcasts import approval_mail
from broadcast.broadcasts.planner import run_fanout
from broadcast.broadcasts.recovery import resume_stalled
from broadcast.broadcasts.scheduling import queue_due_broadcasts
from broadcast.core.db import transaction
from broadcast.core.timeutil import utcnow
from broadcast.deliveries.dispatch import RetryLater
from broadcast.directory.privacy import purge_due
from broadcast.imports.progress import ImportProgress
from broadcast.imports.recovery import resume_stalled_imports
from broadcast.imports.service import run_uploaded_import
from broadcast.inbound.service import purge_receipts
from broadcast.jobs import DispatchBatch
from broadcast.notices.reminders import send_due_reminders
from broadcast.webhooks.delivery import (
    deliver_message,
    purge_final_messages,
    requeue_lost_messages,
)
from workers.resources import Resources

log = logging.getLogger(__name__)

WEBHOOK_GRACE = timedelta(seconds=60)
"""A pending webhook message this late past its due time lost its job (its own retry runs on
time): the recovery pass enqueues it again under the same job id, so never twice."""


def _resources(ctx: dict[str, Any]) -> Resources:
    resources: Resources = ctx["resources"]
    return resources


async def fanout(ctx: dict[str, Any], broadcast_id: int) -> None:
    resources = _resources(ctx)
    try:
        await resources.dispatcher.make_way_for(broadcast_id)
        planner = resources.planner
        completed = await run_fanout(resources.factory, resources.queue, planner, broadcast_id)
        if completed is not None:
            await resources.dispatcher.observe_completion(completed)
    except Exception as exc:
        log.exception("fan-out of broadcast %s failed; it will resume", broadcast_id)
        raise Retry(defer=resources.dispatcher.retry.delay(ctx["job_try"])) from exc


async def recover(ctx: dict[str, Any]) -> int:
    """Cron: enqueue again the fan-outs, deliveries and webhook messages whose jobs were lost;
    forget idempotency keys older than 24 h and webhook messages done for 30 days."""
    resources = _resources(ctx)
    settings = resources.settings
    async with transaction(resources.factory, resources.queue) as session:
        await purge_expired(session)
        await purge_receipts(session)
        lost_webhooks = await requeue_lost_messages(session, before=utcnow() - WEBHOOK_GRACE)
        await purge_final_messages(session, utcnow())
    return len(lost_webhooks) + await resume_stalled(
        resources.factory,
        resources.queue,
        batch_size=settings.dispatch_batch_size,
        stalled_after_s=settings.worker_job_timeout_s + settings.retry_max_delay_s + 60,
    )


async def watch_redis(ctx: dict[str, Any]) -> int:
    """Cron, each scheduler tick and at start-up: once Redis came back without its data (its
    queues emptied), enqueue every open batch and unfinished fan-out again from the ledger at
    once, rather than wait for them to look stalled. Claims keep a live job from being doubled."""
    resources = _resources(ctx)
    if not await resources.epoch.lost_data():
        return 0
    enqueued = await resume_stalled(
        resources.factory,
        resources.queue,
        batch_size=resources.settings.dispatch_batch_size,
        stalled_after_s=0,
    )
    log.warning("Redis lost its data: %d jobs enqueued again from the ledger", enqueued)
    return enqueued


async def import_contacts(ctx: dict[str, Any], run_id: int) -> None:
    """Run an uploaded contact import; its progress is published in Redis as it goes."""
    resources = _resources(ctx)
    progress = ImportProgress(resources.redis)
    await run_uploaded_import(resources.factory, resources.settings.var_dir, run_id, progress)


async def resume_imports(ctx: dict[str, Any]) -> int:
    """Cron: queue again the imports whose job was lost; fail those no job will finish."""
    resources = _resources(ctx)
    return await resume_stalled_imports(
        resources.factory, resources.queue, resources.settings.var_dir
    )


async def dispatch(
    ctx: dict[str, Any], broadcast_id: int, channel: str, first_id: int, last_id: int
) -> None:
    resources = _resources(ctx)
    batch = DispatchBatch(broadcast_id, channel, first_id, last_id)
    try:
        await resources.dispatcher.run(batch, attempt=ctx["job_try"])
    except RetryLater as later:
        raise Retry(defer=later.delay_s) from later
    except Exception as exc:  # a database or network fault: the job re-reads state on retry
        log.exception("dispatch %s failed; it will be retried", batch.job_id())
        raise Retry(defer=resources.dispatcher.retry.delay(ctx["job_try"])) from exc


async def deliver_webhook(ctx: dict[str, Any], message_id: int) -> None:
    """Send one webhook message; arq runs the job again after the retry schedule's delay."""
    resources = _resources(ctx)
    try:
        delay = await deliver_message(
            resources.factory,
            resources.webhooks,
            message_id,
            resources.settings.webhook_retry_delays_s,
        )
    except Exception as exc:  # a database fault: the job re-reads the message on retry
        log.exception("webhook message %s failed; it will be retried", message_id)
        raise Retry(defer=resources.dispatcher.retry.delay(ctx["job_try"])) from exc
    if delay is not None:
        raise Retry(defer=delay)


async def alert_platform_admins(ctx: dict[str, Any], event_id: int) -> int:
    """Email the platform admins the provider alert of audit entry ``event_id``."""
    resources = _resources(ctx)
    return await notify_platform_admins(resources.factory, resources.settings, event_id)


async def notify_approvers(ctx: dict[str, Any], broadcast_id: int) -> int:
    """Email the operators who may approve a broadcast waiting for a second operator."""
    resources = _resources(ctx)
    try:
        return await approval_mail.notify_approvers(
            resources.factory, resources.settings, broadcast_id
        )
    except Exception as exc:  # the relay is down or refused: try again later
        log.exception("approval request of broadcast %s not sent; retrying", broadcast_id)
        raise Retry(defer=resources.dispatcher.retry.delay(ctx["job_try"])) from exc


async def start_scheduled(ctx: dict[str, Any]) -> int:
    """Cron: queue the scheduled broadcasts that are due, each by exactly one worker."""
    resources = _resources(ctx)
    return len(await queue_due_broadcasts(resources.factory, resources.queue))


async def purge_personal_data(ctx: dict[str, Any]) -> dict[str, int]:
    """Cron, daily: delete the contacts who left long enough ago and mask old delivery
    addresses (RULES R2, :mod:`broadcast.directory.privacy`); audited with its counts."""
    resources = _resources(ctx)
    async with transaction(resources.factory, resources.queue) as session:
        report = await purge_due(session, resources.settings, trigger="cron")
    return report.model_dump(include={"contacts", "contact_points", "deliveries_masked"})


async def remind_next_updates(ctx: dict[str, Any]) -> int:
    """Cron: email the authors whose promised next update is five minutes away, once each."""
    resources = _resources(ctx)
    return await send_due_reminders(resources.factory, resources.settings)

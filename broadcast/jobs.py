"""Background jobs as the core sees them: names, queues and deterministic job ids.

Jobs pass ids only. Urgent broadcasts have a queue of their own, served by its own arq worker,
so they never wait behind bulk ones; webhook deliveries have one too, so a subscriber that hangs
(the ENT's banner, while the ENT is down) never holds the slots that send email and SMS; imports
have their own because they run long, and arq waits for a worker's longest job timeout before it
runs a killed worker's jobs again (RULES D3): an hour-long import must not delay dispatch.
Each job is built here as a :class:`broadcast.core.uow.Job` and asked for with
:func:`broadcast.core.uow.enqueue_after_commit`; the unit of work enqueues it once committed.
A job id derived from what the job does makes arq drop a second enqueue while the first is
queued, running or its result kept (RULES D2); the database constraints are the lasting
de-duplication.
"""

from __future__ import annotations

from dataclasses import dataclass

from broadcast.broadcasts.models import Priority
from broadcast.core.errors import InvalidInput
from broadcast.core.uow import Job

URGENT_QUEUE = "broadcast:queue:urgent"
BULK_QUEUE = "broadcast:queue:bulk"
WEBHOOK_QUEUE = "broadcast:queue:webhooks"
IMPORT_QUEUE = "broadcast:queue:imports"
QUEUES = (URGENT_QUEUE, BULK_QUEUE, WEBHOOK_QUEUE, IMPORT_QUEUE)
QUEUE_PREFIX = "broadcast:queue:"
QUEUE_NAMES = tuple(queue.removeprefix(QUEUE_PREFIX) for queue in QUEUES)
"""What ``broadcast worker --queues`` takes: urgent, bulk, webhooks, imports."""


def queues_named(names: str) -> list[str]:
    """``"urgent,bulk"`` -> those queues' Redis names; an unknown name is refused in French."""
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in QUEUE_NAMES]
    if unknown or not wanted:
        known = ", ".join(QUEUE_NAMES)
        raise InvalidInput(
            f"File inconnue : {', '.join(unknown) or '(aucune)'}. Files possibles : {known}.",
            f"Unknown queue: {', '.join(unknown) or '(none)'}. Known queues: {known}.",
        )
    return [QUEUE_PREFIX + name for name in wanted]


def queue_for(priority: str) -> str:
    return URGENT_QUEUE if priority == Priority.urgent else BULK_QUEUE


@dataclass(frozen=True, slots=True)
class DispatchBatch:
    """Deliveries of one broadcast on one channel with ids in [first_id, last_id]."""

    broadcast_id: int
    channel: str
    first_id: int
    last_id: int

    def job_id(self, resumed: str = "") -> str:
        base = f"dispatch:{self.broadcast_id}:{self.channel}:{self.first_id}-{self.last_id}"
        return f"{base}:resumed:{resumed}" if resumed else base


def fanout_job(broadcast_id: int, priority: str, resumed: str = "") -> Job:
    """``resumed`` names a recovery pass, whose job must not be mistaken for the lost one."""
    job_id = f"fanout:{broadcast_id}" + (f":resumed:{resumed}" if resumed else "")
    return Job("fanout", (broadcast_id,), job_id, queue_for(priority))


def approval_request_job(broadcast_id: int, priority: str) -> Job:
    """Email the approvers of a broadcast that waits for a second operator."""
    return Job(
        "notify_approvers",
        (broadcast_id,),
        f"approval-request:{broadcast_id}",
        queue_for(priority),
    )


def operator_alert_job(event_id: int) -> Job:
    """Email the platform admins an alert the audit log recorded (a provider account paused)."""
    return Job("alert_platform_admins", (event_id,), f"alert:{event_id}", URGENT_QUEUE)


def import_job(run_id: int) -> Job:
    """Run an uploaded contact import (``POST /api/v1/imports``) in the background."""
    return Job("import_contacts", (run_id,), f"import:{run_id}", IMPORT_QUEUE)


def dispatch_job(batch: DispatchBatch, priority: str, resumed: str = "") -> Job:
    args = (batch.broadcast_id, batch.channel, batch.first_id, batch.last_id)
    return Job("dispatch", args, batch.job_id(resumed), queue_for(priority))


def webhook_job(message_id: int) -> Job:
    """One delivery job per webhook message; its job id is the message's, so a message
    already queued (or retrying) is not queued twice."""
    return Job("deliver_webhook", (message_id,), webhook_job_id(message_id), WEBHOOK_QUEUE)


def webhook_job_id(message_id: int) -> str:
    return f"webhook:{message_id}"

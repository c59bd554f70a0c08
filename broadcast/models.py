"""Every table, imported in one place so the metadata (and Alembic) sees them all."""

from sqlmodel import SQLModel

from broadcast.accounts.idempotency import IdempotencyRecord
from broadcast.accounts.models import ApiKey, AuditEvent, Operator, OperatorLink
from broadcast.audiences.models import SavedAudience
from broadcast.broadcasts.models import Broadcast
from broadcast.deliveries.models import Delivery
from broadcast.directory.models import (
    Contact,
    ContactPoint,
    Organisation,
    PushSubscription,
    Suppression,
)
from broadcast.imports.models import ImportRun
from broadcast.inbound.models import InboundAlert, InboundReceipt, InboundSource
from broadcast.notices.models import Notice, NoticeUpdate
from broadcast.reports.models import ProblemReport
from broadcast.status.models import EmailFollowRequest
from broadcast.webhooks.models import WebhookEndpoint, WebhookMessage

metadata = SQLModel.metadata

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Broadcast",
    "Contact",
    "ContactPoint",
    "Delivery",
    "EmailFollowRequest",
    "IdempotencyRecord",
    "ImportRun",
    "InboundAlert",
    "InboundReceipt",
    "InboundSource",
    "Notice",
    "NoticeUpdate",
    "Operator",
    "OperatorLink",
    "Organisation",
    "ProblemReport",
    "PushSubscription",
    "SavedAudience",
    "Suppression",
    "WebhookEndpoint",
    "WebhookMessage",
    "metadata",
]

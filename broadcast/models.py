"""Every table, imported in one place so the metadata (and Alembic) sees them all."""

from sqlmodel import SQLModel

from broadcast.accounts.models import ApiKey, AuditEvent, Operator
from broadcast.broadcasts.models import Broadcast
from broadcast.deliveries.models import Delivery
from broadcast.directory.models import Contact, ContactPoint, Organisation, Suppression
from broadcast.idempotency import IdempotencyRecord
from broadcast.notices.models import Notice, NoticeUpdate

metadata = SQLModel.metadata

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Broadcast",
    "Contact",
    "ContactPoint",
    "Delivery",
    "IdempotencyRecord",
    "Notice",
    "NoticeUpdate",
    "Operator",
    "Organisation",
    "Suppression",
    "metadata",
]

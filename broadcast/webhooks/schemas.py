"""Input and output shapes of webhook endpoints and their messages; separate from the table
models."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from broadcast.core.validation import RowId, Text
from broadcast.webhooks.models import WebhookEndpoint, WebhookEvent, WebhookMessage


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    organisation_id: RowId
    url: Text = Field(min_length=8, max_length=2000)
    events: list[WebhookEvent] = Field(min_length=1, max_length=len(WebhookEvent))
    description: Text = Field(default="", max_length=200)


class EndpointPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: Text | None = Field(default=None, min_length=8, max_length=2000)
    events: list[WebhookEvent] | None = Field(
        default=None, min_length=1, max_length=len(WebhookEvent)
    )
    description: Text | None = Field(default=None, max_length=200)
    enabled: bool | None = None


class EndpointOut(BaseModel):
    id: int
    organisation_id: int
    url: str
    description: str
    events: list[str]
    enabled: bool
    disabled_at: datetime | None
    disabled_reason: str | None
    created_at: datetime
    last_success_at: datetime | None
    last_failure_at: datetime | None


class EndpointCreated(EndpointOut):
    secret: str = Field(description="Le secret de signature `whsec_...` : affiché cette fois-ci.")


class MessageOut(BaseModel):
    id: int
    message_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


def endpoint_out(endpoint: WebhookEndpoint) -> EndpointOut:
    return EndpointOut.model_validate(endpoint, from_attributes=True)


def endpoint_created(endpoint: WebhookEndpoint) -> EndpointCreated:
    return EndpointCreated.model_validate(endpoint, from_attributes=True)


def message_out(message: WebhookMessage) -> MessageOut:
    return MessageOut.model_validate(message, from_attributes=True)

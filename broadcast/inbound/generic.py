"""The generic inbound format, signed with Standard Webhooks headers (RULES W4)::

    {"id": "optional", "fingerprint": "db-down", "status": "firing", "title": "...",
     "message": "...", "severity": "critical"}

One alert per request; the ``webhook-id`` header, not ``id``, de-duplicates deliveries.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from broadcast.core.validation import Text
from broadcast.inbound.events import MESSAGE_CHARS, TITLE_CHARS, AlertEvent


class GenericAlert(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: Text | None = Field(default=None, max_length=128)
    fingerprint: Text = Field(min_length=1, max_length=128)
    status: Literal["firing", "resolved"]
    title: Text = Field(min_length=1, max_length=TITLE_CHARS)
    message: Text = Field(default="", max_length=MESSAGE_CHARS)
    severity: Text | None = Field(default=None, max_length=32)

    def event(self) -> AlertEvent:
        return AlertEvent.of(self.fingerprint, self.status == "firing", self.title, self.message)

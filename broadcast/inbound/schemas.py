"""Input and output shapes of monitoring sources and resolution proposals; separate from the
table models."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from broadcast.channels.base import ChannelName
from broadcast.core.sqlutil import row_id
from broadcast.core.validation import RowId, Text
from broadcast.inbound.models import InboundKind, InboundSource

if TYPE_CHECKING:
    from broadcast.inbound.service import Proposal


class InboundSourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    organisation_id: RowId
    name: Text = Field(min_length=1, max_length=100)
    kind: InboundKind
    auto_send_channels: list[ChannelName] = Field(default_factory=list, max_length=3)


class InboundSourcePatch(BaseModel):
    """What an operator may change on a source: its name, its automatic-send rule, whether it
    is listened to. Omitted fields stay as they are."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Text | None = Field(default=None, min_length=1, max_length=100)
    auto_send_channels: list[ChannelName] | None = Field(default=None, max_length=3)
    enabled: bool | None = None


class InboundSourceOut(BaseModel):
    id: int
    organisation_id: int
    name: str
    kind: str
    auto_send_channels: list[str]
    enabled: bool
    created_at: datetime
    secret: str | None = None
    """Only in the answer to the creation: it is never shown again."""


def source_out(source: InboundSource, *, with_secret: bool = False) -> InboundSourceOut:
    out = InboundSourceOut.model_validate(source, from_attributes=True)
    out.secret = source.secret if with_secret else None
    return out


class ProposalOut(BaseModel):
    """A "résolu" update the monitoring system proposes for a notice it opened."""

    alert_id: int
    source_id: int
    source_name: str
    fingerprint: str
    notice_id: int
    notice_title: str
    last_seen_at: datetime


def proposal_out(proposal: Proposal) -> ProposalOut:
    alert, source, notice = proposal.alert, proposal.source, proposal.notice
    return ProposalOut(
        alert_id=row_id(alert),
        source_id=row_id(source),
        source_name=source.name,
        fingerprint=alert.fingerprint,
        notice_id=row_id(notice),
        notice_title=notice.title,
        last_seen_at=alert.last_seen_at,
    )

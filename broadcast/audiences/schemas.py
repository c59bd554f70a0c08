"""Input and output shapes of saved audiences and audience previews; separate from the table
models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from broadcast.audiences.criteria import AudienceCriteria
from broadcast.audiences.models import SavedAudience
from broadcast.channels.base import ChannelName
from broadcast.core.validation import RowId, Text


class SavedAudienceIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    organisation_id: RowId
    name: Text = Field(min_length=1, max_length=100)
    criteria: AudienceCriteria


class SavedAudienceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Text | None = Field(default=None, min_length=1, max_length=100)
    criteria: AudienceCriteria | None = None


class SavedAudienceOut(BaseModel):
    id: int
    organisation_id: int
    name: str
    criteria: dict[str, Any]
    created_by_id: int | None
    created_at: datetime
    updated_at: datetime


class AudiencePreviewIn(BaseModel):
    """Inline criteria or a saved audience, exactly one of the two."""

    model_config = ConfigDict(extra="forbid")

    criteria: AudienceCriteria | None = None
    saved_audience_id: RowId | None = None
    channels: list[ChannelName] = Field(min_length=1, max_length=3)

    @model_validator(mode="after")
    def _one_audience(self) -> AudiencePreviewIn:
        if (self.criteria is None) == (self.saved_audience_id is None):
            raise ValueError("donnez soit des critères, soit une audience enregistrée")
        return self


def saved_audience_out(audience: SavedAudience) -> SavedAudienceOut:
    return SavedAudienceOut.model_validate(audience, from_attributes=True)

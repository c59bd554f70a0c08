"""Input and output shapes of notices and notice templates; separate from the table models."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from broadcast.broadcasts.scheduling import paris_to_utc
from broadcast.core.timeutil import utcnow
from broadcast.core.validation import Moment, RowId, Text, refuse_nul
from broadcast.notices.models import Notice, NoticeStatus, NoticeUpdate

if TYPE_CHECKING:
    from broadcast.notices.templates import NoticeTemplate, Placeholder

Locale = Literal["fr", "en"]
MAX_TITLE = 200
MAX_MESSAGE = 5000
MAX_VALUE = 500
MAX_VALUES = 20
MAX_VALUE_NAME = 64


MAX_SERVICES = 20
MAX_SERVICE_CODE = 32


def _ahead(value: datetime) -> datetime:
    if value <= utcnow():
        raise ValueError("l'heure de la prochaine mise à jour doit être à venir")
    return value


NextUpdateAt = Annotated[Moment, AfterValidator(paris_to_utc), AfterValidator(_ahead)]
"""When the author commits to post the next update: naive means Europe/Paris; must be ahead."""
ServiceCode = Annotated[Text, StringConstraints(max_length=MAX_SERVICE_CODE)]
ServiceCodes = Annotated[list[ServiceCode], Field(max_length=MAX_SERVICES)]


class NoticeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    organisation_id: RowId
    title: Text = Field(min_length=3, max_length=MAX_TITLE)
    message: Text = Field(min_length=1, max_length=MAX_MESSAGE)
    status: NoticeStatus = NoticeStatus.investigating
    public: bool = False
    is_exercise: bool = False
    services: ServiceCodes = Field(default_factory=list)
    next_update_at: NextUpdateAt | None = None


class UpdateIn(BaseModel):
    """Each update replaces the author's commitment: without ``next_update_at``, none is shown."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    status: NoticeStatus
    message: Text = Field(min_length=1, max_length=MAX_MESSAGE)
    next_update_at: NextUpdateAt | None = None
    services: ServiceCodes | None = None
    """Given: the services concerned from now on; left out: unchanged."""


class NoticeEdit(BaseModel):
    """What may change on a notice without an update: only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    public: bool | None = None
    services: ServiceCodes | None = None
    next_update_at: NextUpdateAt | None = None


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: NoticeStatus


class UpdateOut(BaseModel):
    id: int
    status: str
    message: str
    created_at: Any


class NoticeOut(BaseModel):
    id: int
    organisation_id: int
    title: str
    status: str
    public: bool
    is_exercise: bool = False
    services: list[str] = Field(default_factory=list)
    next_update_at: datetime | None = None
    created_at: Any
    updated_at: Any
    updates: list[UpdateOut] = Field(default_factory=list)


def update_out(update: NoticeUpdate) -> UpdateOut:
    return UpdateOut.model_validate(update, from_attributes=True)


def notice_out(notice: Notice, updates: Sequence[NoticeUpdate]) -> NoticeOut:
    return NoticeOut(**notice.model_dump(), updates=[update_out(u) for u in updates])


# -- templates -----------------------------------------------------------------------------

Value = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=MAX_VALUE), AfterValidator(refuse_nul)
]
ValueName = Annotated[str, StringConstraints(max_length=MAX_VALUE_NAME), AfterValidator(refuse_nul)]
Values = Annotated[dict[ValueName, Value], Field(max_length=MAX_VALUES)]


class RenderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    values: Values = Field(default_factory=dict)
    locale: Locale = "fr"
    organisation_id: RowId | None = None
    """Where the template is used: its académie's templates are found beside the national ones."""


class FromTemplateIn(RenderIn):
    """A notice started from a template, in one call."""

    organisation_id: RowId  # type: ignore[assignment]
    template: Text = Field(max_length=64)
    public: bool = False


class RenderedNoticeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    template: str
    title: str
    message: str
    status: NoticeStatus
    exercise: bool


class PlaceholderOut(BaseModel):
    name: str
    label: str
    example: str
    required: bool
    max_length: int


class NoticeTemplateOut(BaseModel):
    key: str
    title: str
    message: str
    status: NoticeStatus
    exercise: bool
    placeholders: list[PlaceholderOut]
    organisation_id: int | None = None
    """The académie that wrote it; None for the national library."""


TemplateKey = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", min_length=3, max_length=64)
]
PlaceholderName = Annotated[
    str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=MAX_VALUE_NAME)
]
TemplateText = Annotated[Text, StringConstraints(min_length=1, max_length=MAX_MESSAGE)]


class PlaceholderIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: PlaceholderName
    label_fr: Text = Field(min_length=1, max_length=100)
    label_en: Text | None = Field(default=None, max_length=100)
    example: Text = Field(min_length=1, max_length=MAX_VALUE)
    required: bool = True
    max_length: int = Field(default=200, ge=1, le=MAX_VALUE)


class LocalisedText(BaseModel):
    """A text in French, and in English when the académie writes one (else French is used)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    fr: TemplateText
    en: TemplateText | None = None


class AcademieTemplateIn(BaseModel):
    """A template an académie writes for its schools; writing its key again replaces it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    organisation_id: RowId
    key: TemplateKey
    status: NoticeStatus = NoticeStatus.investigating
    exercise: bool = False
    title: LocalisedText
    message: LocalisedText
    placeholders: list[PlaceholderIn] = Field(default_factory=list, max_length=MAX_VALUES)


def template_out(template: NoticeTemplate, locale: Locale) -> NoticeTemplateOut:
    """The template as the console shows it: its texts unrendered and what it asks for."""
    return NoticeTemplateOut(
        key=template.key,
        title=template.title[locale],
        message=template.message[locale],
        status=template.status,
        exercise=template.exercise,
        placeholders=[_placeholder_out(p, locale) for p in template.placeholders],
        organisation_id=template.organisation_id,
    )


def _placeholder_out(placeholder: Placeholder, locale: Locale) -> PlaceholderOut:
    label = placeholder.label_en if locale == "en" else placeholder.label_fr
    return PlaceholderOut(
        name=placeholder.name,
        label=label,
        example=placeholder.example,
        required=placeholder.required,
        max_length=placeholder.max_length,
    )

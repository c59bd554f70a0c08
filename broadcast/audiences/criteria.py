"""Typed audience criteria and their translation into SQL over contact points.

An audience is never loaded whole: :func:`matching_points` is a SELECT that the planner pages
through by contact point id (keyset), and the preview aggregates in the database.

Criteria, all AND-ed; an empty list means "any":

- ``organisation_ids``: whole subtrees (an académie, a département, a school);
- ``school_types``: the type of the contact's school, stored as a code in
  ``Organisation.school_type``: ``ecole``, ``college``, ``lycee``, ``lp`` (lycée professionnel).
  The API also accepts the French labels: "école", "collège", "lycée", "LP",
  "lycée professionnel" (any case, with or without accents);
- ``roles``, ``levels`` (``3e``, ``CM2``...), ``divisions`` (the classes: ``3e B``), ``locales``;
- ``channels_available``: contacts holding a usable (present and not suppressed) address on
  *every* channel listed. "Any of" is what a broadcast's own channel list already gives (a
  contact with an email or a mobile is reached on whichever he has), so "all of" is the one
  that adds something: "the families we can reach by SMS *and* email";
- ``exclude``: the same criteria (organisations included), subtracted: a contact matching every
  non-empty criterion of the block is left out. The block must name at least one criterion.

Contacts who left (``left_at`` set) never match, except for the preview, which counts them apart.
"""

from __future__ import annotations

import enum
import unicodedata
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from sqlalchemy import ColumnElement, Select, and_, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from broadcast.accounts.scoped import covers, in_subtree
from broadcast.accounts.service import Principal
from broadcast.channels.base import ChannelName
from broadcast.core.errors import InvalidInput, NotFound
from broadcast.core.validation import RowId, refuse_nul
from broadcast.directory.levels import known_level
from broadcast.directory.models import Contact, ContactPoint, ContactRole, Organisation, Suppression
from broadcast.directory.roles import RoleIn
from broadcast.directory.schemas import Locale


class SchoolType(enum.StrEnum):
    """Codes of ``Organisation.school_type``."""

    ecole = "ecole"
    college = "college"
    lycee = "lycee"
    lp = "lp"


_SCHOOL_TYPE_LABELS = {
    "ecole": SchoolType.ecole,
    "ecole primaire": SchoolType.ecole,
    "ecole elementaire": SchoolType.ecole,
    "ecole maternelle": SchoolType.ecole,
    "college": SchoolType.college,
    "lycee": SchoolType.lycee,
    "lycee general": SchoolType.lycee,
    "lycee general et technologique": SchoolType.lycee,
    "lp": SchoolType.lp,
    "lycee professionnel": SchoolType.lp,
}


def _without_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def school_type_of(value: Any) -> Any:
    """``"Collège"`` -> ``"college"``; unknown values are left for the enum to refuse."""
    if isinstance(value, str):
        key = " ".join(_without_accents(value).lower().split())
        return _SCHOOL_TYPE_LABELS.get(key, value)
    return value


SchoolTypeIn = Annotated[SchoolType, BeforeValidator(school_type_of)]
LevelIn = Annotated[
    str, StringConstraints(max_length=32), AfterValidator(refuse_nul), AfterValidator(known_level)
]
Division = Annotated[str, StringConstraints(max_length=32), AfterValidator(refuse_nul)]
"""As long as a contact's division may be (:class:`broadcast.directory.schemas.ContactIn`)."""


class _Filters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    roles: list[RoleIn] = Field(default_factory=list, max_length=10)
    levels: list[LevelIn] = Field(default_factory=list, max_length=50)
    divisions: list[Division] = Field(default_factory=list, max_length=500)
    school_types: list[SchoolTypeIn] = Field(default_factory=list, max_length=4)
    locales: list[Locale] = Field(default_factory=list, max_length=5)
    channels_available: list[ChannelName] = Field(default_factory=list, max_length=3)


class AudienceExclusion(_Filters):
    """Who to subtract: the contacts matching every non-empty criterion of the block."""

    organisation_ids: list[RowId] = Field(default_factory=list, max_length=500)

    @model_validator(mode="after")
    def _names_something(self) -> AudienceExclusion:
        if not any(self.model_dump().values()):
            raise ValueError("l'exclusion doit nommer au moins un critère")
        return self


class AudienceCriteria(_Filters):
    """Who a broadcast reaches. Empty lists mean "any"; organisations are whole subtrees."""

    organisation_ids: list[RowId] = Field(min_length=1, max_length=500)
    exclude: AudienceExclusion | None = None

    def all_organisation_ids(self) -> set[int]:
        excluded = self.exclude.organisation_ids if self.exclude else []
        return {*self.organisation_ids, *excluded}


async def subtree_paths(
    session: AsyncSession, principal: Principal, criteria: AudienceCriteria, within: str
) -> list[str]:
    """The materialised paths of the criteria's organisations; 404 for one outside the
    principal's scope or outside ``within`` (the notice's subtree). Organisations named in
    ``exclude`` are checked the same way."""
    ids = criteria.all_organisation_ids()
    rows = (
        (await session.execute(select(Organisation).where(col(Organisation.id).in_(ids))))
        .scalars()
        .all()
    )
    paths = {org.id: org.path for org in rows if covers(principal.scope_path, org.path)}
    if set(paths) != ids or not all(covers(within, path) for path in paths.values()):
        raise NotFound("Organisation introuvable dans votre périmètre.", "Organisation not found.")
    return sorted(paths[i] for i in set(criteria.organisation_ids))


def _in(column: Any, values: list[Any]) -> ColumnElement[bool]:
    """``column IN values`` that is false, never NULL, on a NULL column (safe under NOT)."""
    return and_(column.is_not(None), column.in_([str(v) for v in values]))


def _has_usable_address(channel: str) -> ColumnElement[bool]:
    point = aliased(ContactPoint)
    suppressed = (
        select(col(Suppression.id))
        .where(
            col(Suppression.channel) == col(point.channel),
            col(Suppression.address) == col(point.address),
        )
        .exists()
    )
    return (
        select(col(point.id))
        .where(col(point.contact_id) == col(Contact.id), col(point.channel) == channel, ~suppressed)
        .exists()
    )


def _in_subtrees(organisation_ids: list[int]) -> ColumnElement[bool]:
    """The contact's organisation lies under one of ``organisation_ids`` (resolved in SQL, so
    that the planner needs nothing but the stored criteria)."""
    root = aliased(Organisation)
    return (
        select(col(root.id))
        .where(col(root.id).in_(organisation_ids), in_subtree(col(root.path)))
        .exists()
    )


def _filters(criteria: _Filters) -> list[ColumnElement[bool]]:
    filters: list[ColumnElement[bool]] = []
    if criteria.roles:
        filters.append(_in(col(Contact.role), criteria.roles))
    if criteria.levels:
        filters.append(_in(col(Contact.level), criteria.levels))
    if criteria.divisions:
        filters.append(_in(col(Contact.division), criteria.divisions))
    if criteria.school_types:
        filters.append(_in(col(Organisation.school_type), criteria.school_types))
    if criteria.locales:
        filters.append(_in(col(Contact.locale), criteria.locales))
    filters.extend(_has_usable_address(c.value) for c in criteria.channels_available)
    return filters


def _exclusion(exclude: AudienceExclusion) -> ColumnElement[bool]:
    filters = _filters(exclude)
    if exclude.organisation_ids:
        filters.append(_in_subtrees(exclude.organisation_ids))
    return not_(and_(*filters))


def _contact_filters(
    criteria: AudienceCriteria, paths: list[str], *, include_left: bool = False
) -> list[ColumnElement[bool]]:
    filters = [or_(*(in_subtree(path) for path in paths)), *_filters(criteria)]
    if not include_left:
        filters.append(col(Contact.left_at).is_(None))
    if criteria.exclude is not None:
        filters.append(_exclusion(criteria.exclude))
    return filters


def matching_contacts(
    criteria: AudienceCriteria, paths: list[str], *, include_left: bool = False
) -> Select[Any]:
    return (
        select(col(Contact.id))
        .join(Organisation, col(Organisation.id) == col(Contact.organisation_id))
        .where(*_contact_filters(criteria, paths, include_left=include_left))
    )


def matching_points(
    criteria: AudienceCriteria,
    paths: list[str],
    channels: list[str],
    *,
    unsuppressed: bool,
    include_left: bool = False,
) -> Select[*tuple[Any, ...]]:  # columns: id, channel, address, contact_id, locale
    """Contact points of the audience on ``channels``: id, channel, address, contact, locale.

    ``include_left`` keeps the contacts who left (the preview counts them apart)."""
    query = (
        select(
            col(ContactPoint.id),
            col(ContactPoint.channel),
            col(ContactPoint.address),
            col(ContactPoint.contact_id),
            col(Contact.locale),
        )
        .join(Contact, col(Contact.id) == col(ContactPoint.contact_id))
        .join(Organisation, col(Organisation.id) == col(Contact.organisation_id))
        .where(
            col(ContactPoint.channel).in_(channels),
            *_contact_filters(criteria, paths, include_left=include_left),
        )
    )
    if unsuppressed:
        query = query.where(~point_is_suppressed())
    return query


def point_is_suppressed() -> ColumnElement[bool]:
    """True where the contact point's address is suppressed on its channel."""
    return (
        select(col(Suppression.id))
        .where(
            and_(
                col(Suppression.channel) == col(ContactPoint.channel),
                col(Suppression.address) == col(ContactPoint.address),
            )
        )
        .exists()
    )


def for_notice(criteria: AudienceCriteria, *, public: bool) -> AudienceCriteria:
    """Anonymous followers subscribed to an organisation's public notices only: the audience of
    a notice that is not public leaves them out (an empty role list becomes every other role),
    and naming them is refused."""
    if public:
        return criteria
    if ContactRole.follower in criteria.roles:
        raise InvalidInput(
            "Les abonnés anonymes ne reçoivent que les avis publics : rendez l'avis public "
            "ou retirez le rôle « follower ».",
            "Anonymous followers receive public notices only: make the notice public or remove "
            "the follower role.",
        )
    if criteria.roles:
        return criteria
    others = [role for role in ContactRole if role != ContactRole.follower]
    return criteria.model_copy(update={"roles": others})

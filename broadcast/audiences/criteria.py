"""Typed audience criteria and their translation into SQL over contact points.

An audience is never loaded whole: :func:`matching_points` is a SELECT that the planner pages
through by contact point id (keyset), and the preview aggregates in the database.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.accounts.service import Principal
from broadcast.directory.models import Contact, ContactPoint, ContactRole, Organisation, Suppression
from broadcast.errors import NotFound


class AudienceCriteria(BaseModel):
    """Who a broadcast reaches. Empty lists mean "any"; organisations are whole subtrees."""

    model_config = ConfigDict(extra="forbid")

    organisation_ids: list[int] = Field(min_length=1, max_length=500)
    roles: list[ContactRole] = Field(default_factory=list, max_length=10)
    levels: list[str] = Field(default_factory=list, max_length=50)
    divisions: list[str] = Field(default_factory=list, max_length=500)


async def subtree_paths(
    session: AsyncSession, principal: Principal, criteria: AudienceCriteria, within: str
) -> list[str]:
    """The materialised paths of the criteria's organisations; 404 for one outside the
    principal's scope or outside ``within`` (the notice's subtree)."""
    ids = set(criteria.organisation_ids)
    rows = (
        (await session.execute(select(Organisation).where(col(Organisation.id).in_(ids))))
        .scalars()
        .all()
    )
    paths = {org.id: org.path for org in rows if principal.covers(org.path)}
    if set(paths) != ids or not all(path.startswith(within) for path in paths.values()):
        raise NotFound("Organisation introuvable dans votre périmètre.", "Organisation not found.")
    return sorted(paths.values())


def _contact_filters(criteria: AudienceCriteria, paths: list[str]) -> list[ColumnElement[bool]]:
    path_column: Any = col(Organisation.path)
    filters: list[ColumnElement[bool]] = [
        or_(*(path_column.startswith(path) for path in paths)),
        col(Contact.left_at).is_(None),
    ]
    if criteria.roles:
        filters.append(col(Contact.role).in_([r.value for r in criteria.roles]))
    if criteria.levels:
        filters.append(col(Contact.level).in_(criteria.levels))
    if criteria.divisions:
        filters.append(col(Contact.division).in_(criteria.divisions))
    return filters


def matching_contacts(criteria: AudienceCriteria, paths: list[str]) -> Select[Any]:
    return (
        select(col(Contact.id))
        .join(Organisation, col(Organisation.id) == col(Contact.organisation_id))
        .where(*_contact_filters(criteria, paths))
    )


def matching_points(
    criteria: AudienceCriteria, paths: list[str], channels: list[str], *, unsuppressed: bool
) -> Select[*tuple[Any, ...]]:  # columns: id, channel, address, contact_id, locale
    """Contact points of the audience on ``channels``: id, channel, address, contact, locale."""
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
        .where(col(ContactPoint.channel).in_(channels), *_contact_filters(criteria, paths))
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

"""Typed audience criteria and their translation into SQL over contact points.

An audience is never loaded whole: :func:`matching_points` is a SELECT that the planner pages
through by contact point id (keyset), and the preview aggregates in the database.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

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
        await session.execute(select(Organisation).where(Organisation.id.in_(ids)))  # type: ignore[union-attr]
    ).scalars().all()
    paths = {org.id: org.path for org in rows if principal.covers(org.path)}
    if set(paths) != ids or not all(path.startswith(within) for path in paths.values()):
        raise NotFound("Organisation introuvable dans votre périmètre.", "Organisation not found.")
    return sorted(paths.values())


def _contact_filters(criteria: AudienceCriteria, paths: list[str]) -> list[ColumnElement[bool]]:
    path_column: Any = Organisation.path
    filters: list[ColumnElement[bool]] = [
        or_(*(path_column.startswith(path) for path in paths)),
        Contact.left_at.is_(None),  # type: ignore[union-attr]
    ]
    if criteria.roles:
        filters.append(Contact.role.in_([r.value for r in criteria.roles]))  # type: ignore[attr-defined]
    if criteria.levels:
        filters.append(Contact.level.in_(criteria.levels))  # type: ignore[union-attr]
    if criteria.divisions:
        filters.append(Contact.division.in_(criteria.divisions))  # type: ignore[union-attr]
    return filters


def matching_contacts(criteria: AudienceCriteria, paths: list[str]) -> Select[Any]:
    return (
        select(Contact.id)
        .join(Organisation, Organisation.id == Contact.organisation_id)  # type: ignore[arg-type]
        .where(*_contact_filters(criteria, paths))
    )


def matching_points(
    criteria: AudienceCriteria, paths: list[str], channels: list[str], *, unsuppressed: bool
) -> Select[Any]:
    """Contact points of the audience on ``channels``: id, channel, address, contact, locale."""
    query = (
        select(
            ContactPoint.id,
            ContactPoint.channel,
            ContactPoint.address,
            ContactPoint.contact_id,
            Contact.locale,
        )
        .join(Contact, Contact.id == ContactPoint.contact_id)  # type: ignore[arg-type]
        .join(Organisation, Organisation.id == Contact.organisation_id)  # type: ignore[arg-type]
        .where(ContactPoint.channel.in_(channels), *_contact_filters(criteria, paths))  # type: ignore[attr-defined]
    )
    if unsuppressed:
        query = query.where(~point_is_suppressed())
    return query


def point_is_suppressed() -> ColumnElement[bool]:
    """True where the contact point's address is suppressed on its channel."""
    return (
        select(Suppression.id)
        .where(
            and_(
                Suppression.channel == ContactPoint.channel,
                Suppression.address == ContactPoint.address,
            )
        )
        .exists()
    )


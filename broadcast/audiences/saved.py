"""Named audiences saved within an organisation's scope, and previews without a broadcast.

A saved audience belongs to one organisation (a school, a département, an académie): its name is
unique there, and its criteria may only name organisations of that organisation's subtree. Whoever
covers the organisation reads it (404 for the others, RULES A1). Services never commit.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.accounts.scoped import get_within_scope, select_within, subtree_within_scope
from broadcast.accounts.service import Principal
from broadcast.audiences.criteria import AudienceCriteria, subtree_paths
from broadcast.audiences.models import SavedAudience
from broadcast.audiences.preview import AudiencePreview, preview_audience
from broadcast.audiences.schemas import SavedAudienceIn, SavedAudienceUpdate
from broadcast.core.errors import Conflict, NotFound
from broadcast.core.timeutil import utcnow
from broadcast.directory.service import get_organisation


def _duplicate_name(name: str) -> Conflict:
    return Conflict(
        f"Une audience nommée « {name} » existe déjà pour cette organisation.",
        f"An audience named '{name}' already exists for this organisation.",
    )


async def _ensure_name_free(
    session: AsyncSession, organisation_id: int, name: str, audience_id: int | None = None
) -> None:
    found = await session.scalar(
        select(col(SavedAudience.id)).where(
            col(SavedAudience.organisation_id) == organisation_id,
            col(SavedAudience.name) == name,
            col(SavedAudience.id) != (audience_id or 0),
        )
    )
    if found is not None:
        raise _duplicate_name(name)


async def create_saved_audience(
    session: AsyncSession, principal: Principal, data: SavedAudienceIn
) -> SavedAudience:
    organisation = await get_organisation(session, principal, data.organisation_id)
    await subtree_paths(session, principal, data.criteria, within=organisation.path)
    await _ensure_name_free(session, data.organisation_id, data.name)
    audience = SavedAudience(
        organisation_id=data.organisation_id,
        name=data.name,
        criteria=data.criteria.model_dump(mode="json"),
        created_by_id=principal.operator_id,
    )
    session.add(audience)
    await session.flush()
    return audience


async def get_saved_audience(
    session: AsyncSession, principal: Principal, audience_id: int
) -> SavedAudience:
    not_found = NotFound("Audience introuvable.", "Audience not found.")
    return await get_within_scope(session, principal, SavedAudience, audience_id, not_found)


async def list_saved_audiences(
    session: AsyncSession,
    principal: Principal,
    *,
    organisation_id: int | None = None,
    after: int = 0,
    limit: int = 100,
) -> list[SavedAudience]:
    """Saved audiences in scope (of one subtree if asked), by id after the cursor ``after``."""
    subtree = await subtree_within_scope(session, principal, organisation_id)
    rows = await session.execute(
        select_within(SavedAudience, subtree)
        .where(col(SavedAudience.id) > after)
        .order_by(col(SavedAudience.id))
        .limit(limit)
    )
    return list(rows.scalars())


async def update_saved_audience(
    session: AsyncSession, principal: Principal, audience_id: int, data: SavedAudienceUpdate
) -> SavedAudience:
    audience = await get_saved_audience(session, principal, audience_id)
    if data.name is not None and data.name != audience.name:
        await _ensure_name_free(session, audience.organisation_id, data.name, audience_id)
        audience.name = data.name
    if data.criteria is not None:
        organisation = await get_organisation(session, principal, audience.organisation_id)
        await subtree_paths(session, principal, data.criteria, within=organisation.path)
        audience.criteria = data.criteria.model_dump(mode="json")
    audience.updated_at = utcnow()
    await session.flush()
    return audience


async def delete_saved_audience(
    session: AsyncSession, principal: Principal, audience_id: int
) -> SavedAudience:
    audience = await get_saved_audience(session, principal, audience_id)
    await session.delete(audience)
    await session.flush()
    return audience


async def criteria_of(
    session: AsyncSession,
    principal: Principal,
    criteria: AudienceCriteria | None,
    saved_audience_id: int | None,
) -> AudienceCriteria:
    """The inline criteria, or those of the saved audience (404 outside the scope)."""
    if criteria is not None:
        return criteria
    assert saved_audience_id is not None
    saved = await get_saved_audience(session, principal, saved_audience_id)
    return AudienceCriteria.model_validate(saved.criteria)


async def preview_within_scope(
    session: AsyncSession, principal: Principal, criteria: AudienceCriteria, channels: list[str]
) -> AudiencePreview:
    """The preview of an audience, computed without creating a broadcast."""
    paths = await subtree_paths(session, principal, criteria, within=principal.scope_path)
    return await preview_audience(session, criteria, paths, channels)

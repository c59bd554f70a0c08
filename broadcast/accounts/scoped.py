"""The one scoped query (RULES A1): every object that belongs to an organisation is read and
listed through here, so that an object of another organisation's subtree answers exactly as
an absent one does (404) and no service writes a scope filter by hand.

An organisation's subtree is ``path LIKE '<its path>%'`` on the materialised path; an
operator's scope is the subtree of the organisation his account is anchored at.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped
from sqlmodel import col

from broadcast.accounts.service import Principal
from broadcast.core.errors import NotFound
from broadcast.directory.models import Organisation


class Scoped(Protocol):
    """A table model whose rows belong to one organisation."""

    organisation_id: int


ScopedT = TypeVar("ScopedT", bound=Scoped)
SelectT = TypeVar("SelectT", bound=Select[*tuple[Any, ...]])


def covers(scope_path: str, organisation_path: str) -> bool:
    """The organisation lies in the subtree whose root has ``scope_path``."""
    return organisation_path.startswith(scope_path)


def in_subtree(path: str | ColumnElement[str] | Mapped[str]) -> ColumnElement[bool]:
    """SQL: the joined ``Organisation`` lies in the subtree whose root has ``path`` (a value,
    or the path column of another organisation)."""
    path_column: Any = col(Organisation.path)
    result: ColumnElement[bool] = path_column.startswith(path)
    return result


def in_scope(principal: Principal) -> ColumnElement[bool]:
    """SQL: the joined ``Organisation`` lies within the principal's scope."""
    return in_subtree(principal.scope_path)


def join_organisation(query: SelectT, model: type[Scoped]) -> SelectT:
    """``query`` joined to the organisation each row of ``model`` belongs to."""
    return query.join(Organisation, col(Organisation.id) == col(model.organisation_id))


def select_within(model: type[ScopedT], path: str) -> Select[ScopedT]:
    """The rows of ``model`` that belong to the subtree whose root has ``path``."""
    return join_organisation(select(model), model).where(in_subtree(path))


def select_within_scope(principal: Principal, model: type[ScopedT]) -> Select[ScopedT]:
    """The rows of ``model`` within the principal's scope: the start of every scoped list."""
    return select_within(model, principal.scope_path)


def ensure_within_scope(
    principal: Principal, organisation: Organisation | None, not_found: NotFound | None = None
) -> Organisation:
    """The organisation, or ``not_found`` when it is absent or outside the principal's scope."""
    if organisation is None or not covers(principal.scope_path, organisation.path):
        raise not_found or NotFound()
    return organisation


async def organisation_within_scope(
    session: AsyncSession,
    principal: Principal,
    organisation_id: int,
    not_found: NotFound | None = None,
) -> Organisation:
    """The organisation ``organisation_id`` if it lies within scope, else 404."""
    organisation = await session.get(Organisation, organisation_id)
    return ensure_within_scope(principal, organisation, not_found)


async def subtree_within_scope(
    session: AsyncSession, principal: Principal, organisation_id: int | None
) -> str:
    """The path of the subtree a list is narrowed to: the asked organisation's (404 outside
    scope), else the whole scope."""
    if organisation_id is None:
        return principal.scope_path
    return (await organisation_within_scope(session, principal, organisation_id)).path


async def get_within_scope(
    session: AsyncSession,
    principal: Principal,
    model: type[ScopedT],
    object_id: int,
    not_found: NotFound | None = None,
) -> ScopedT:
    """The row ``object_id`` of ``model``, or ``not_found`` (404) when it is absent or belongs
    to an organisation outside the principal's scope: the two cannot be told apart."""
    row = await session.get(model, object_id)
    if row is None:
        raise not_found or NotFound()
    await organisation_within_scope(session, principal, row.organisation_id, not_found)
    return row

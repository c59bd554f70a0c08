"""Which organisations' public pages a transaction changed.

The notice services call :func:`status_changed` beside their writes; once the transaction has
committed, the request boundary takes the ids (:func:`take_status_changes`) and has the status
site render and purge those pages (:meth:`broadcast.status.site.StatusSite.refresh`).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from broadcast.notices.models import Notice

CHANGED_KEY = "broadcast.status.changed"


def status_changed(session: AsyncSession, notice: Notice) -> None:
    """Note that the pages showing ``notice``'s organisation must be rendered again."""
    changed: set[int] = session.info.setdefault(CHANGED_KEY, set())
    changed.add(notice.organisation_id)


def take_status_changes(session: AsyncSession) -> set[int]:
    """The organisation ids noted in ``session`` and not yet taken; call once it committed."""
    changed: set[int] = session.info.pop(CHANGED_KEY, set())
    return changed

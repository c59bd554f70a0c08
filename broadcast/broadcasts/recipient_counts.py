"""A draft's recipient counts, counted once and shown again for a few seconds by one process.

« Vérifier » shows, per channel, the recipients and who is left out and why: for an
académie-wide draft, an exact count of 100,000 contact points with two sorting queries
(hundreds of milliseconds). The page is shown again and again before a send (after
« Normaliser la ponctuation », a reload, a typed number refused), with the same draft: its
counts are kept here under everything they depend on (the draft, its audience, channels,
delivery mode, seed list, follow-up source, and the reader's scope), so that a change of any
of those counts again at once. A change of the directory (an import, a bounce, a STOP) is
seen within :data:`FRESH_FOR_S`; the send's confirmation never reads from here: it counts
again, and when its numbers differ from those the page showed, the page is shown again with
the new ones (:func:`broadcast.broadcasts.compose.check`, ``shown``).
One cache per app process (``app.state``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from broadcast.audiences.criteria import AudienceCriteria
from broadcast.audiences.preview import AudiencePreview
from broadcast.broadcasts.models import Broadcast
from broadcast.broadcasts.sources import preview_recipients

FRESH_FOR_S = 20.0
KEPT_AT_MOST = 256


class RecipientCounts:
    def __init__(
        self, fresh_for_s: float = FRESH_FOR_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._fresh_for_s = fresh_for_s
        self._clock = clock
        self._kept: dict[str, tuple[float, AudiencePreview]] = {}

    async def preview(
        self,
        session: AsyncSession,
        broadcast: Broadcast,
        criteria: AudienceCriteria,
        paths: list[str],
        *,
        recount: bool = False,
    ) -> AudiencePreview:
        """:func:`~broadcast.broadcasts.sources.preview_recipients`, at most ``fresh_for_s``
        old; counted now (and kept) with ``recount``. Each caller gets its own copy."""
        key = _key(broadcast, criteria, paths)
        found = self._kept.get(key)
        if not recount and found is not None and self._clock() - found[0] < self._fresh_for_s:
            return found[1].model_copy(deep=True)
        result = await preview_recipients(session, broadcast, criteria, paths)
        self._keep(key, result.model_copy(deep=True))
        return result

    def _keep(self, key: str, result: AudiencePreview) -> None:
        now = self._clock()
        if len(self._kept) >= KEPT_AT_MOST:
            stale = [k for k, (at, _) in self._kept.items() if now - at >= self._fresh_for_s]
            for gone in stale or list(self._kept)[: KEPT_AT_MOST // 2]:
                del self._kept[gone]
        self._kept[key] = (now, result)


def _key(broadcast: Broadcast, criteria: AudienceCriteria, paths: list[str]) -> str:
    return json.dumps(
        {
            "id": broadcast.id,
            "audience": criteria.model_dump(mode="json"),
            "channels": list(broadcast.channels),
            "mode": broadcast.delivery_mode,
            "exercise": broadcast.is_exercise,
            "seed": broadcast.exercise_addresses,
            "follow_up_of": broadcast.follow_up_of_id,
            "paths": sorted(paths),
        },
        sort_keys=True,
        default=str,
    )

"""The public status site: pages, banners, feeds, JSON, service worker and manifests, served
as cached bytes (broadcast.status.site). No cookie, no sign-in, no database query on a hit."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from broadcast.status import urls
from broadcast.status.entry import answer
from broadcast.status.site import StatusSite

_NOT_FOUND = (
    '<!doctype html><html lang="fr"><meta charset="utf-8"><title>Page introuvable</title>'
    "<p>Cette page d'état des services n'existe pas. "
    '<a href="/status/">Voir la liste des académies</a>.</p></html>'
).encode()


async def status_resource(request: Request) -> Response:
    """GET or HEAD of any resource of the site; English pages for ``Accept-Language: en``."""
    key = urls.key_of_path(request.url.path)
    site: StatusSite = request.app.state.status_site
    entry = None
    if key is not None:
        language = request.headers.get("accept-language", "")
        negotiated = urls.negotiated(key, language)
        entry = await site.get(negotiated)
    if key is None or entry is None:
        return Response(_NOT_FOUND, status_code=404, media_type="text/html")
    result = answer(
        entry,
        accept_encoding=request.headers.get("accept-encoding", ""),
        if_none_match=request.headers.get("if-none-match"),
        vary_language=urls.negotiated(key, "en") != key,
        embeddable="/banner/" in key,
        head=request.method == "HEAD",
    )
    response = Response(result.body, status_code=result.status)
    response.headers.update(dict(result.headers))
    return response

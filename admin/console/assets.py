"""The console's own stylesheet and scripts, served from ``templates/console/static``."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response

from admin.console.web import TEMPLATES

router = APIRouter(prefix="/console", include_in_schema=False)
ASSETS = TEMPLATES / "static"
_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


@cache
def _asset(name: str) -> tuple[bytes, str] | None:
    path = ASSETS / name
    if Path(name).name != name or path.suffix not in _TYPES or not path.is_file():
        return None
    return path.read_bytes(), _TYPES[path.suffix]


@router.get("/static/{name}")
async def asset(name: str) -> Response:
    found = _asset(name)
    if found is None:
        return Response("Introuvable.", status_code=404, media_type="text/plain; charset=utf-8")
    body, media_type = found
    return Response(body, media_type=media_type, headers={"cache-control": "public, max-age=3600"})

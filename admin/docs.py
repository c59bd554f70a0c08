"""The API documentation, /docs (Swagger UI) and /redoc (ReDoc), working without internet: their
scripts and styles come from the ``fastapi-offline`` package, served here, never from a CDN; the
page's own start-up script is a file too, as the Content-Security-Policy allows no inline script."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from admin.pages import PAGES_DIR, render

ASSETS_URL = "/docs-assets"
ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
"""swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js, favicon.png"""

router = APIRouter(include_in_schema=False)


def _context(request: Request, title: str) -> dict[str, str]:
    root = request.scope.get("root_path", "")
    return {
        "title": f"{request.app.title} - {title}",
        "openapi_url": f"{root}{request.app.openapi_url}",
        "assets_url": f"{root}{ASSETS_URL}",
        "init_url": f"{root}/docs/swagger-init.js",
    }


@router.get("/docs", response_class=HTMLResponse)
async def swagger_ui(request: Request) -> HTMLResponse:
    return HTMLResponse(render("swagger.html", **_context(request, "Swagger UI")))


@router.get("/docs/swagger-init.js", response_class=FileResponse)
async def swagger_init() -> FileResponse:
    return FileResponse(PAGES_DIR / "swagger-init.js", media_type="text/javascript")


@router.get("/redoc", response_class=HTMLResponse)
async def redoc(request: Request) -> HTMLResponse:
    return HTMLResponse(render("redoc.html", **_context(request, "ReDoc")))


def mount_docs(app: FastAPI) -> None:
    """Create the app with ``docs_url=None, redoc_url=None``, then call this."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")
    app.include_router(router)

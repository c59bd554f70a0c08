"""Server-rendered HTML pages: Jinja2 templates under ``templates/pages/``, every value escaped
(autoescape), no inline script (admin.security_headers' Content-Security-Policy forbids it)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

PAGES_DIR = Path(__file__).parent.parent / "templates" / "pages"


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(PAGES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(name: str, **context: Any) -> str:
    return _environment().get_template(name).render(**context)


def page(name: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    """The page ``templates/pages/<name>`` as an HTML answer."""
    return HTMLResponse(render(name, **context), status_code=status_code)

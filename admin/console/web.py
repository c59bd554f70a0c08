"""How a console page is answered: its template (``templates/console/``, autoescaped), its
words in the operator's language, French dates in Europe/Paris, and the cookies it sets.

Two cookies, both HttpOnly, SameSite=Lax, Secure outside ``env=dev`` and limited to
``/console``: ``bc_session`` (the session token, :mod:`broadcast.accounts.signin`) and, before
sign-in, ``bc_form`` (the token the sign-in forms repeat, so that another site cannot post them).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from admin.console.texts import broadcast_status, translate
from broadcast.core.errors import NotFound
from broadcast.settings import Settings
from broadcast.status.texts import LIFECYCLE
from broadcast.status.timefmt import ago, clock, date_and_clock

TEMPLATES = Path(__file__).parent.parent.parent / "templates" / "console"
SESSION_COOKIE = "bc_session"
FORM_COOKIE = "bc_form"
COOKIE_PATH = "/console"


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["number"] = french_number
    return env


def french_number(value: int) -> str:
    """``48 212``: digits grouped by a narrow no-break space, as French typography wants."""
    return f"{value:,}".replace(",", "\u202f")


def request_locale(request: Request) -> str:
    language = request.headers.get("accept-language", "").lower()
    return "en" if language.startswith("en") else "fr"


def page(
    request: Request,
    name: str,
    *,
    locale: str | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """The template ``name`` rendered for this request."""
    response = HTMLResponse(
        render(request, name, locale=locale, **context), status_code=status_code
    )
    response.headers["cache-control"] = "no-store"
    return response


def render(request: Request, name: str, *, locale: str | None = None, **context: Any) -> str:
    """The template ``name`` (a page or a fragment) as text, in the operator's language."""
    locale = locale or request_locale(request)

    def words(text: str, **values: Any) -> str:
        translated = translate(text, locale)
        return translated.format(**values) if values else translated

    def when(moment: datetime | None) -> str:
        return date_and_clock(moment, locale) if moment else ""

    now = datetime.now().astimezone()
    return (
        _environment()
        .get_template(name)
        .render(
            _=words,
            locale=locale,
            when=when,
            clock=lambda moment: clock(moment, locale),
            ago=lambda moment: ago(moment, now, locale),
            current_path=request.url.path,
            status_label=lambda status: broadcast_status(status, locale),
            lifecycle_label=lambda status: LIFECYCLE[locale].get(status, status),
            **context,
        )
    )


def redirect(url: str) -> RedirectResponse:
    """After a form: 303, so that the browser follows with a GET."""
    return RedirectResponse(url, status_code=303)


def set_cookie(response: Response, settings: Settings, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=settings.env != "dev",
    )


def form_token(request: Request) -> str:
    """The sign-in forms' token: the ``bc_form`` cookie's, or a new one to set."""
    current = request.cookies.get(FORM_COOKIE, "")
    return current if 20 <= len(current) <= 64 else secrets.token_urlsafe(24)


def tokens_match(expected: str, given: object) -> bool:
    return isinstance(given, str) and bool(expected) and secrets.compare_digest(expected, given)


Chosen = TypeVar("Chosen")


def action_named(actions: Mapping[str, Chosen], name: str) -> Chosen:
    """The confirmable action a page's URL names (``/…/{action}``); an unknown one is 404."""
    found = actions.get(name)
    if found is None:
        raise NotFound("Cette action n'existe pas.", "No such action.")
    return found

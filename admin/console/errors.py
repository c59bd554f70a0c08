"""Errors met in the console, answered as pages: the French message, a way back, and the
public status page (which says whether the service itself is in trouble)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import Response

from admin.console.deps import SignInRequired
from admin.console.web import SESSION_COOKIE, page, redirect

CONSOLE_PREFIX = "/console"
_TITLES = {
    401: "Connexion requise",
    403: "Accès refusé",
    404: "Page introuvable",
    405: "Action impossible",
    413: "Envoi trop volumineux",
    422: "Données invalides",
    429: "Trop de tentatives",
}


def is_console(request: Request) -> bool:
    return request.url.path == CONSOLE_PREFIX or request.url.path.startswith(CONSOLE_PREFIX + "/")


def error_page(request: Request, status_code: int, message: str) -> Response:
    return page(
        request,
        "error.html",
        status_code=status_code,
        title=_TITLES.get(status_code, "Erreur"),
        message=message,
        signed_in=SESSION_COOKIE in request.cookies,
    )


async def sign_in_required(request: Request, exc: Exception) -> Response:
    """To the sign-in page, then back where the operator was going (a GET) or home."""
    assert isinstance(exc, SignInRequired)
    target = exc.next_path if request.method == "GET" else "/console/"
    if exc.second_factor_pending:
        return redirect(f"/console/connexion/code?suite={quote(target)}")
    ended = "&fin=expiree" if SESSION_COOKIE in request.cookies else ""
    response = redirect(f"/console/connexion?suite={quote(target)}{ended}")
    response.delete_cookie(SESSION_COOKIE, path=CONSOLE_PREFIX)
    return response

"""The public status site: pages, banners, feeds, JSON, service worker and manifests, served
as cached bytes (broadcast.status.site). No cookie, no sign-in, no database query on a hit.

Beside them, following a page by email (broadcast.status.follow): the page's form posts to
``/status/{code}/follow`` (no script needed), the emailed link opens ``/follow/{token}``, whose
button confirms. These answers are plain HTML in the reader's language, never cached."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from fastapi import APIRouter
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from broadcast.core.db import SessionFactory, transaction
from broadcast.core.errors import DomainError
from broadcast.core.timeutil import utcnow
from broadcast.ratelimit import RateLimit, RateLimiter
from broadcast.status import follow, urls
from broadcast.status.entry import answer, follow_page_headers
from broadcast.status.site import StatusSite
from broadcast.status.texts import FOLLOW_PAGES

_NOT_FOUND = (
    '<!doctype html><html lang="fr"><meta charset="utf-8"><title>Page introuvable</title>'
    "<p>Cette page d'état des services n'existe pas. "
    '<a href="/status/">Voir la liste des académies</a>.</p></html>'
).encode()

_NOT_FOUND_HEADERS = [
    ("content-type", "text/html; charset=utf-8"),
    ("content-length", str(len(_NOT_FOUND))),
]

_UNAVAILABLE = (
    '<!doctype html><html lang="fr"><meta charset="utf-8"><title>Page indisponible</title>'
    "<p>Cette page d'état des services est momentanément indisponible. "
    "Veuillez réessayer dans une minute.</p></html>"
).encode()
_UNAVAILABLE_HEADERS = [
    ("content-type", "text/html; charset=utf-8"),
    ("content-length", str(len(_UNAVAILABLE))),
    ("retry-after", "60"),
    ("cache-control", "no-store"),
]

CLIENT_RATE = RateLimit(rate=1 / 6, burst=10)
"""Follow requests per client address: ten at once, then one every six seconds."""
ADDRESS_RATE = RateLimit(rate=1 / 600, burst=3)
"""Confirmation emails per address: three, then one every ten minutes (no mail bombing)."""

router = APIRouter(include_in_schema=False)


async def status_answer(
    site: StatusSite, path: str, method: str, headers: Mapping[str, str]
) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body of a GET or HEAD of ``path``; English pages for
    ``Accept-Language: en``."""
    key = urls.key_of_path(path)
    entry = None
    if key is not None:
        try:
            entry = await site.get(urls.negotiated(key, headers.get("accept-language", "")))
        except RedisError:  # neither in memory nor reachable: say so, never a 500
            return 503, _UNAVAILABLE_HEADERS, _UNAVAILABLE
    if key is None or entry is None:
        return 404, _NOT_FOUND_HEADERS, _NOT_FOUND
    result = answer(
        entry,
        accept_encoding=headers.get("accept-encoding", ""),
        if_none_match=headers.get("if-none-match"),
        vary_language=urls.negotiated(key, "en") != key,
        embeddable="/banner/" in key,
        head=method == "HEAD",
    )
    return result.status, result.headers, result.body


async def status_resource(request: Request) -> Response:
    """The routes ``/status`` and ``/status/{rest:path}``; :class:`StatusFastPath` answers
    them first, so that these run only for an app built without it."""
    site: StatusSite = request.app.state.status_site
    code, headers, body = await status_answer(
        site, request.url.path, request.method, request.headers
    )
    response = Response(body, status_code=code)
    response.headers.update(dict(headers))
    return response


class StatusFastPath:
    """GET and HEAD under ``/status`` answered before the router: matching a path against the
    app's hundred routes cost about three quarters of a hit (profiled), and a hit is bytes
    from memory. Placed inside the security headers and proxy middlewares."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path != "/status" and not path.startswith("/status/"):
            await self.app(scope, receive, send)
            return
        site: StatusSite = scope["app"].state.status_site
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        code, answer_headers, body = await status_answer(site, path, scope["method"], headers)
        raw = [(k.encode(), v.encode()) for k, v in answer_headers]
        await send({"type": "http.response.start", "status": code, "headers": raw})
        await send({"type": "http.response.body", "body": body})


def _locale(value: object, request: Request) -> str:
    if value in ("fr", "en"):
        return str(value)
    return "en" if request.headers.get("accept-language", "").lower().startswith("en") else "fr"


def _page(
    request: Request,
    locale: str,
    status_code: int,
    *,
    title: str,
    text: str,
    code: str | None,
    form_action: str | None = None,
) -> Response:
    site: StatusSite = request.app.state.status_site
    other = "en" if locale == "fr" else "fr"
    back = urls.page_path(code, locale) if code else urls.index_path(locale)
    body = site.renderer.follow_page(
        locale,
        title=title,
        text=text,
        back_url=back,
        other_language_url=urls.page_path(code, other) if code else urls.index_path(other),
        form_action=form_action,
        button=FOLLOW_PAGES[locale]["confirm_button"],
    )
    response = Response(body, status_code=status_code)
    response.headers.update(dict(follow_page_headers()))
    return response


def _refused(request: Request, locale: str, error: DomainError, code: str | None) -> Response:
    words = FOLLOW_PAGES[locale]
    return _page(
        request,
        locale,
        error.status_code,
        title=words["error_title"],
        text=error.message(locale),
        code=code,
    )


async def _too_many(request: Request, email: str) -> bool:
    limiter: RateLimiter = request.app.state.limiter
    client = request.client.host if request.client is not None else "unknown"
    address = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    buckets = [
        (f"public:follow:{client}", CLIENT_RATE),
        (f"public:follow-address:{address}", ADDRESS_RATE),
    ]
    return await limiter.try_acquire(buckets) > 0


@router.post("/status/{code}/follow")
async def follow_by_email(request: Request, code: str) -> Response:
    """The page's form: a confirmation email is sent; nothing is followed until it is used."""
    form = await request.form()
    locale = _locale(form.get("locale"), request)
    email = str(form.get("email") or "")[:400]
    factory: SessionFactory = request.app.state.session_factory
    try:
        if await _too_many(request, email):
            raise follow.TooManyFollowRequests()
        async with transaction(factory) as session:
            pending = await follow.request_email_follow(session, code, email, locale, utcnow())
            await follow.send_confirmation(request.app.state.settings, pending)
    except DomainError as error:
        known = error.status_code != 404 and len(code) <= 32  # a page to go back to
        return _refused(request, locale, error, code if known else None)
    words = FOLLOW_PAGES[locale]
    text = words["sent"].format(email=pending.request.email, name=pending.organisation.name)
    return _page(request, locale, 202, title=words["sent_title"], text=text, code=code)


@router.get("/follow/{token}")
async def confirmation_page(request: Request, token: str) -> Response:
    """The emailed link: a button to confirm (a GET changes nothing; mail scanners open links)."""
    factory: SessionFactory = request.app.state.session_factory
    locale = _locale(None, request)
    try:
        async with transaction(factory) as session:
            pending = await follow.pending_request(session, token, utcnow())
            organisation = await follow.organisation_of(session, pending)
    except DomainError as error:
        return _refused(request, locale, error, None)
    locale = pending.locale
    words = FOLLOW_PAGES[locale]
    return _page(
        request,
        locale,
        200,
        title=words["confirm_title"],
        text=words["confirm"].format(name=organisation.name, email=pending.email),
        code=organisation.code,
        form_action=follow.CONFIRM_PATH + token,
    )


@router.post("/follow/{token}")
async def confirm(request: Request, token: str) -> Response:
    """The button of the emailed link: the address now follows the page; the link is spent."""
    factory: SessionFactory = request.app.state.session_factory
    locale = _locale(None, request)
    try:
        async with transaction(factory) as session:
            pending = await follow.pending_request(session, token, utcnow())
            locale = pending.locale
            organisation = await follow.confirm_email_follow(session, token, utcnow())
    except DomainError as error:
        return _refused(request, locale, error, None)
    words = FOLLOW_PAGES[locale]
    return _page(
        request,
        locale,
        200,
        title=words["confirmed_title"],
        text=words["confirmed"].format(name=organisation.name),
        code=organisation.code,
    )

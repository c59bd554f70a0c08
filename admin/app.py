"""The web face: the admin API under /api/v1, public unsubscribe, health, the API documentation
and the demo outbox. The client address is the connection's, or the one a trusted proxy
(``trusted_proxies``) forwards."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from admin import operations, providers, public, status_pages
from admin.api import (
    audiences,
    audit,
    broadcasts,
    directory,
    followers,
    governance,
    inbound,
    notice_templates,
    notices,
    privacy,
    push,
    webhooks,
)
from admin.api.imports import router as imports_router
from admin.bodylimit import BodyLimit, BodyTooLarge, too_large_message
from admin.console import approvals as console_approvals
from admin.console import assets as console_assets
from admin.console import auth as console_auth
from admin.console import check as console_check
from admin.console import compose as console_compose
from admin.console import contacts as console_contacts
from admin.console import dashboard as console_dashboard
from admin.console import imports as console_imports
from admin.console import incidents as console_incidents
from admin.console import integrations as console_integrations
from admin.console import journal as console_journal
from admin.console import links as console_links
from admin.console import operators as console_operators
from admin.console import reports as console_reports
from admin.console import sends as console_sends
from admin.console import webhooks as console_webhooks
from admin.console.deps import SignInRequired
from admin.console.errors import error_page, is_console, sign_in_required
from admin.deps import locale_of
from admin.docs import mount_docs
from admin.security_headers import SecurityHeadersMiddleware
from broadcast.accounts.session_cache import SessionCache
from broadcast.broadcasts.live_counts import LiveCounts
from broadcast.broadcasts.live_progress import LiveProgress
from broadcast.broadcasts.recipient_counts import RecipientCounts
from broadcast.channels.sms.callbacks import STATUS_CALLBACK_PATH
from broadcast.core.db import create_engine, session_factory
from broadcast.core.embedded_redis import redis_url_or_embedded
from broadcast.core.errors import DomainError, InvalidInput
from broadcast.core.logsetup import RoutineAccessFilter, configure_logging_from_env
from broadcast.core.redis_epoch import mark_epoch
from broadcast.core.redis_url import connect as connect_redis
from broadcast.core.validation import describe_errors, summary
from broadcast.deliveries.callback_stream import CallbackStream
from broadcast.deliveries.early_status import EarlyStatuses
from broadcast.imports.progress import ImportProgress
from broadcast.ratelimit import RateLimiter
from broadcast.settings import Settings, get_settings
from broadcast.status.site import StatusSite


def _error(status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details}}
    return JSONResponse(status_code=status, content=body)


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    if is_console(request):
        return error_page(request, exc.status_code, exc.message(locale_of(request)))
    return _error(exc.status_code, exc.code, exc.message(locale_of(request)), exc.details)


_HTTP_MESSAGES = {
    404: ("Cette adresse n'existe pas.", "No such address."),
    405: ("Méthode non permise sur cette adresse.", "Method not allowed here."),
}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc, BodyTooLarge):
        message = too_large_message(exc.limit, locale_of(request))
        if is_console(request):
            return error_page(request, 413, message)
        return _error(413, "payload_too_large", message)
    french, english = _HTTP_MESSAGES.get(exc.status_code, (str(exc.detail), str(exc.detail)))
    message = english if locale_of(request) == "en" else french
    if is_console(request):
        return error_page(request, exc.status_code, message)
    return _error(exc.status_code, "http_error", message)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    locale = locale_of(request)
    details = describe_errors(exc.errors(), locale)
    if is_console(request):
        return error_page(request, 422, summary(details, locale))
    return _error(422, InvalidInput.code, summary(details, locale), details)


def create_served_app() -> FastAPI:
    """The app of a process started by ``broadcast serve``: uvicorn's worker processes do not
    run the command's own logging set-up, so each sets it up here (masked, JSON on demand)."""
    if not logging.getLogger().handlers:
        configure_logging_from_env()
    routine = RoutineAccessFilter(frozenset({STATUS_CALLBACK_PATH}))
    logging.getLogger("uvicorn.access").addFilter(routine)
    return create_app()


def create_app(
    settings: Settings | None = None, *, outbox: public.DemoOutbox | None = None
) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis_url, embedded = redis_url_or_embedded(settings.redis_url, settings.var_dir)
        engine = create_engine(settings)
        redis = await connect_redis(redis_url)
        app.state.settings = settings
        app.state.session_factory = session_factory(engine)
        app.state.redis = redis
        await mark_epoch(redis)
        app.state.limiter = RateLimiter(redis)
        app.state.early_statuses = EarlyStatuses(redis)
        app.state.callbacks = CallbackStream(redis)
        app.state.import_progress = ImportProgress(redis)
        app.state.status_site = StatusSite(app.state.session_factory, redis, settings)
        app.state.live_counts = LiveCounts()
        app.state.live_progress = LiveProgress(app.state.live_counts)
        app.state.console_sessions = SessionCache()
        app.state.recipient_counts = RecipientCounts()
        try:
            yield
        finally:
            await redis.aclose()
            await engine.dispose()
            if embedded is not None:
                embedded.stop()

    app = FastAPI(
        title="broadcast",
        summary="Avis d'incident aux familles et aux personnels, par e-mail, SMS et notification.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # The service exports Prometheus metrics (/metrics) and configures no OpenTelemetry;
        # FastAPI's own hooks looked for its providers on every request (a tenth of a callback).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.add_middleware(console_sends.ProgressFastPath)
    app.add_middleware(status_pages.StatusFastPath)  # inside the three below
    app.add_middleware(providers.StatusCallbackFastPath)
    app.add_middleware(SecurityHeadersMiddleware)
    if settings.trusted_proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    app.add_middleware(BodyLimit, import_limit=settings.import_max_upload_mb << 20)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(SignInRequired, sign_in_required)
    app.include_router(privacy.router, prefix="/api/v1")  # before /contacts/{contact_id}
    for router in (directory.router, notices.router, broadcasts.router, public.me_router):
        app.include_router(router, prefix="/api/v1")
    app.include_router(push.router, prefix="/api/v1")
    app.include_router(followers.router, prefix="/api/v1")
    app.include_router(audiences.router, prefix="/api/v1")
    app.include_router(audit.router, prefix="/api/v1")
    app.include_router(notice_templates.router, prefix="/api/v1")
    app.include_router(governance.router, prefix="/api/v1")
    app.include_router(inbound.router, prefix="/api/v1")
    app.include_router(webhooks.router, prefix="/api/v1")
    app.include_router(imports_router, prefix="/api/v1")
    app.include_router(public.router)
    app.include_router(operations.router)
    mount_docs(app)
    app.include_router(status_pages.router)  # before the catch-all of the status site
    for path in ("/status", "/status/{rest:path}"):
        app.add_route(path, status_pages.status_resource, methods=["GET", "HEAD"])
    app.include_router(providers.router)
    for console in (
        console_auth,
        console_dashboard,
        console_sends,
        console_approvals,
        console_compose,
        console_check,
        console_assets,
    ):
        app.include_router(console.router)
    app.include_router(console_incidents.router)
    app.include_router(console_reports.router)
    app.include_router(console_journal.router)
    app.include_router(console_links.router)
    app.include_router(console_operators.router)
    app.include_router(console_integrations.router)
    app.include_router(console_webhooks.router)
    app.include_router(console_contacts.router)
    app.include_router(console_imports.router)
    if outbox is not None:
        app.include_router(public.outbox_router(outbox))
    return app

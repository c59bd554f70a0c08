"""Who may call each route (RULES A2), read from the app itself.

A route of the API names its permission with :func:`admin.deps.requires`; which role holds which
permission is :data:`broadcast.accounts.permissions.ROLE_PERMISSIONS`. The routes that take no
API key are declared here, each with how it is protected instead, and nowhere else: a route that
neither names a permission nor appears here fails ``tests/admin/test_role_matrix.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute, Mount

from broadcast.accounts.permissions import Permission
from broadcast.channels.sms.callbacks import INBOUND_PATH, STATUS_CALLBACK_PATH

_DOCS = "the API description"
_DEMO = "demo only (mounted by `broadcast demo`): masked outbox of the local providers"
_SIGN_IN = "console sign-in (RULES A3): throttled, its form token in a cookie"
_FORGOT = "password reset request: throttled, the same answer for any address, form token"
_LINK = "an emailed one-time link: its 256-bit token is the credential, form token"
_SECOND_FACTOR = "the session opened by the password, before its second factor"
_UNSUBSCRIBE = "one-click unsubscribe (RULES E1): the signed token is the credential"

PUBLIC_ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): "load balancer probe; says nothing but ok",
    ("GET", "/status"): "public status pages: no account, no cookie",
    ("GET", "/status/{rest:path}"): "public status pages, feeds and JSON: no account, no cookie",
    ("POST", "/status/{code}/follow"): "email follow form: sends a confirmation link, rate-limited",
    ("GET", "/follow/{token}"): "email follow confirmation page: the emailed token is its key",
    ("POST", "/follow/{token}"): "email follow confirmation: the emailed one-time token",
    ("GET", "/livez"): "liveness probe; depends on nothing",
    ("GET", "/readyz"): "readiness probe: the database and Redis answer, or 503",
    ("GET", "/metrics"): "Prometheus scrape; a bearer token when BROADCAST_METRICS_TOKEN is set",
    ("GET", "/u/{token}"): _UNSUBSCRIBE,
    ("POST", "/u/{token}"): _UNSUBSCRIBE,
    ("POST", STATUS_CALLBACK_PATH): "Twilio status callback, checked by X-Twilio-Signature (S1)",
    ("POST", INBOUND_PATH): "Twilio inbound SMS (STOP/START), checked by X-Twilio-Signature (S1)",
    ("GET", "/api/v1/push/public-key"): "the VAPID public key a school's web page subscribes with",
    (
        "POST",
        "/api/v1/push/follow",
    ): "a browser follows an organisation's public notices, no account",
    ("DELETE", "/api/v1/push/subscriptions"): "by endpoint: the browser's capability URL",
    ("POST", "/api/v1/inbound/alertmanager/{source_id}"): "the source's own bearer secret",
    (
        "POST",
        "/api/v1/inbound/generic/{source_id}",
    ): "the source's Standard Webhooks signature (W4)",
    ("GET", "/openapi.json"): _DOCS,
    ("GET", "/docs"): _DOCS,
    ("GET", "/docs/swagger-init.js"): _DOCS,
    ("GET", "/docs-assets"): "the documentation's scripts and styles (fastapi-offline)",
    ("GET", "/redoc"): _DOCS,
    ("GET", "/console/connexion"): _SIGN_IN,
    ("POST", "/console/connexion"): _SIGN_IN,
    ("GET", "/console/connexion/code"): _SECOND_FACTOR,
    ("POST", "/console/connexion/code"): _SECOND_FACTOR,
    ("GET", "/console/connexion/activer"): _SECOND_FACTOR,
    ("POST", "/console/connexion/activer"): _SECOND_FACTOR,
    ("GET", "/console/connexion/oubli"): _FORGOT,
    ("POST", "/console/connexion/oubli"): _FORGOT,
    ("GET", "/console/lien/{token}"): _LINK,
    ("POST", "/console/lien/{token}"): _LINK,
    ("POST", "/console/deconnexion"): "ends the cookie's session, if any (with its CSRF token)",
    ("GET", "/console/static/{name}"): "the console's stylesheet and scripts",
    ("GET", "/demo"): _DEMO,
    ("GET", "/demo/outbox"): _DEMO,
}
"""(method, path) -> why it takes no API key, and what protects it instead."""


@dataclass(frozen=True, slots=True)
class RouteAccess:
    method: str
    path: str
    permissions: frozenset[Permission]
    public_reason: str | None

    @property
    def declared(self) -> bool:
        """Exactly one of: a permission, or a public declaration."""
        return bool(self.permissions) != (self.public_reason is not None)


def access_table(app: FastAPI) -> list[RouteAccess]:
    """One row per (method, path) the app serves, with its permissions or public reason."""
    rows = [
        RouteAccess(method, path, permissions, PUBLIC_ROUTES.get((method, path)))
        for method, path, permissions in _walk(app.routes)
    ]
    return sorted(rows, key=lambda row: (row.path, row.method))


def _walk(routes: list[BaseRoute]) -> Iterator[tuple[str, str, frozenset[Permission]]]:
    """Every served (method, path) and the permissions its dependencies demand, routers
    included (the routes FastAPI itself adds, such as /docs, demand none)."""
    for context in iter_route_contexts(routes):
        path = context.path or ""
        if isinstance(context.original_route, Mount):
            yield "GET", path, frozenset()  # an application mounted whole (static files...)
            continue
        dependant: Dependant | None = getattr(context, "dependant", None)
        permissions = frozenset(_permissions_of(dependant)) if dependant else frozenset()
        for method in sorted(context.methods or ()):
            if method != "HEAD":
                yield method, path, permissions


def _permissions_of(dependant: Dependant) -> Iterator[Permission]:
    """The permissions marked by :func:`admin.deps.requires`, at any depth."""
    for sub in dependant.dependencies:
        permission = getattr(sub.call, "permission", None)
        if isinstance(permission, Permission):
            yield permission
        yield from _permissions_of(sub)

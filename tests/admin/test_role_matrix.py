"""RULES A2: the role x route matrix, generated from the app's own route table.

Every (method, path) the app serves either names its permission (``requires``) or is declared
public in :data:`admin.access.PUBLIC_ROUTES`; then every role x route cell is called with a key
of that role (a console page: signed in as the role's operator): 403 with the French message
when the role lacks the permission, neither 401 nor 403 when it holds it (404 and 422 are fine:
ids are 999999 and bodies empty)."""

from __future__ import annotations

import re

import httpx

from admin.access import PUBLIC_ROUTES, RouteAccess, access_table
from admin.app import create_app
from admin.public import DemoOutbox
from broadcast.accounts.models import Role
from broadcast.accounts.permissions import ROLE_PERMISSIONS, Permission
from broadcast.core.db import SessionFactory
from broadcast.sandbox.smtp import SmtpSink
from broadcast.settings import Settings
from tests.console.console_support import csrf_of, give_password, sign_in
from tests.support import api, auth, build_world

KEY_OF_ROLE = {
    Role.platform_admin: "admin",
    Role.academie_officer: "officer",
    Role.head_teacher: "head_x",
    Role.viewer: "viewer_x",
}
FORBIDDEN_FR = "Votre rôle ne permet pas cette action."
_PATH_PARAM = re.compile(r"\{[^}]+\}")


def every_route(settings: Settings, sink: SmtpSink) -> list[RouteAccess]:
    """Every route, the demo's included, of the app as it is when the test runs."""
    return access_table(create_app(settings, outbox=DemoOutbox(sink)))


def guarded_routes(settings: Settings, sink: SmtpSink) -> list[RouteAccess]:
    return [route for route in every_route(settings, sink) if route.permissions]


def test_every_route_names_a_permission_or_is_declared_public(
    settings: Settings, sink: SmtpSink
) -> None:
    routes = every_route(settings, sink)
    undeclared = [(r.method, r.path) for r in routes if not r.declared]
    assert not undeclared, (
        "each route needs `requires(Permission.x)` (admin/deps.py) or, if it takes no API key, "
        "an entry saying why in admin/access.py PUBLIC_ROUTES (not both)",
        undeclared,
    )
    served = {(r.method, r.path) for r in routes}
    assert not set(PUBLIC_ROUTES) - served, "a public declaration names no route"
    assert any(r.path.startswith("/api/v1/") for r in routes if r.permissions)


def test_the_route_table_misses_no_route_of_the_openapi_document(
    settings: Settings, sink: SmtpSink
) -> None:
    """The walk of ``app.routes`` is checked against FastAPI's own listing of the API."""
    app = create_app(settings, outbox=DemoOutbox(sink))
    documented = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    walked = {(r.method, r.path) for r in access_table(app)}
    assert documented <= walked
    assert len(walked) > len(documented)  # plus /docs, /healthz, callbacks, unsubscribe, demo


def test_the_matrix_grants_the_cells_that_matter() -> None:
    admin, officer, head, viewer = (ROLE_PERMISSIONS[role] for role in KEY_OF_ROLE)
    assert set(admin) == set(Permission), "the platform admin may do everything"
    assert head <= officer <= admin
    assert all(p.value.endswith(":read") for p in viewer), "a viewer cannot write"
    assert Permission.audit_read not in viewer
    assert Permission.audit_read in head, "a head teacher reads his own school's log"
    managed = {"webhooks", "inbound", "integrations"}
    platform_only = [
        p for p in Permission if p.value.split(":")[0] in managed and p.value.endswith(":manage")
    ]
    assert not head & set(platform_only), "a head teacher manages no webhook or inbound source"
    for permission in Permission:
        if "override" in permission.value:
            holders = {role for role, granted in ROLE_PERMISSIONS.items() if permission in granted}
            assert holders == {Role.platform_admin}, permission


def test_every_permission_guards_at_least_one_route(settings: Settings, sink: SmtpSink) -> None:
    used = {p for route in guarded_routes(settings, sink) for p in route.permissions}
    assert set(Permission) - used == set(), "a permission no route asks for"


def _call_url(path: str) -> str:
    return _PATH_PARAM.sub("999999", path)


async def _cell(client: httpx.AsyncClient, route: RouteAccess, key: str) -> httpx.Response:
    return await client.request(route.method, _call_url(route.path), headers=auth(key))


async def _console_cell(client: httpx.AsyncClient, route: RouteAccess, csrf: str) -> httpx.Response:
    """A console page, called as the signed-in operator's browser does (forms with the token)."""
    data = {"csrf": csrf} if route.method == "POST" else None
    return await client.request(route.method, _call_url(route.path), data=data)


async def _signed_in_csrf(
    client: httpx.AsyncClient, factory: SessionFactory, role: Role, name: str
) -> str:
    with_totp = role in (Role.platform_admin, Role.academie_officer)
    credentials = await give_password(factory, f"{name}@test.fr", with_totp=with_totp)
    assert (await sign_in(client, credentials)).status_code == 303
    return csrf_of(await client.get("/console/"))


async def test_every_role_x_route_cell_is_enforced_on_the_server(
    settings: Settings, sink: SmtpSink, factory: SessionFactory
) -> None:
    """API routes with the role's key; console pages signed in as the role's operator."""
    world = await build_world(factory)
    routes = guarded_routes(settings, sink)
    wrong: list[tuple[str, str, str, int, str]] = []
    for role, key_name in KEY_OF_ROLE.items():
        async with api(settings) as client:
            csrf = await _signed_in_csrf(client, factory, role, key_name)
            for route in routes:
                allowed = route.permissions <= ROLE_PERMISSIONS[role]
                if route.path.startswith("/console/"):
                    response = await _console_cell(client, route, csrf)
                    expected = _console_as_expected(response, allowed)
                else:
                    response = await _cell(client, route, world.keys[key_name])
                    expected = _as_expected(response, allowed)
                if not expected:
                    wrong.append(
                        (role, route.method, route.path, response.status_code, response.text[:200])
                    )
    assert not wrong, wrong


def _as_expected(response: httpx.Response, allowed: bool) -> bool:
    if allowed:
        return response.status_code not in (401, 403)
    return response.status_code == 403 and response.json()["error"]["message"] == FORBIDDEN_FR


def _console_as_expected(response: httpx.Response, allowed: bool) -> bool:
    if allowed:
        signed_out = response.headers.get("location", "").startswith("/console/connexion")
        return response.status_code not in (401, 403) and not signed_out
    return response.status_code == 403 and FORBIDDEN_FR in response.text

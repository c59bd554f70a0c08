"""axe-core on every page of the console (issue 11, acceptance): the GET routes under /console
are read from the app itself; each must have a URL in :func:`visits`, built from a seeded
world, and each URL is opened in Chromium as an operator who may see it, with no serious or
critical violation. A new console page fails the first test with its path until it is added
to :data:`PAGES` (and to :func:`visits`), or to :data:`NOT_PAGES` with a reason."""

from __future__ import annotations

import re
from dataclasses import dataclass
from inspect import signature

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from playwright.async_api import Browser
from sqlalchemy import select
from sqlmodel import col

from admin.app import create_app
from broadcast.accounts.links import LinkPurpose, issue_link
from broadcast.accounts.models import ApiKey, Operator, Role
from broadcast.accounts.service import create_operator
from broadcast.core.db import SessionFactory, transaction
from broadcast.core.sqlutil import row_id
from broadcast.directory.models import Organisation, Suppression
from broadcast.directory.service import suppress
from broadcast.imports.models import ImportStatus
from broadcast.imports.service import create_run
from broadcast.settings import Settings
from tests.console.browser_support import (
    DESKTOP,
    chromium,
    french_context,
    live_server,
    serious_violations,
    sign_in_page,
)
from tests.console.console_support import Credentials, give_password
from tests.support import add_contacts, api, auth, build_world, guardians
from tests.support import send_broadcast as api_send

NOT_PAGES = {
    "/console/rediger/{broadcast_id}/compte": "JSON for the audience form's script",
    "/console/signalements/en-attente": "a fragment of the dashboard, checked on it",
    "/console/signalements/miens": "a fragment of the dashboard, checked on it",
    "/console/journal/export": "CSV",
}
"""Console GET routes that are not pages, beside JSON answers, ``.csv`` and static files."""


@dataclass(frozen=True, slots=True)
class Seeded:
    """What the URLs name: a draft, a send queued, one waiting for approval, an incident."""

    draft_id: int
    queued_id: int
    pending_id: int
    notice_id: int
    operator_id: int = 5
    link_token: str = "jeton"
    key_id: int = 5
    webhook_id: int = 6
    contact_id: int = 0
    import_id: int = 0
    running_import_id: int = 0
    suppression_id: int = 0


@dataclass(frozen=True, slots=True)
class Visit:
    operator: str
    """``anonymous``, ``head_x``, ``officer`` or ``admin`` of the world; ``password_only``
    stops at the second factor's form, ``first_time`` at its activation."""
    url: str


def visits(s: Seeded) -> dict[str, list[Visit]]:
    """Route path -> the URLs that show it, each as the operator who opens it."""
    send = f"/console/envois/{s.queued_id}"
    draft = f"/console/rediger/{s.draft_id}"
    operator = f"/console/operateurs/{s.operator_id}"
    key = f"/console/integrations/cles/{s.key_id}"
    hook = f"/console/integrations/webhooks/{s.webhook_id}"
    return {
        "/console/connexion": [Visit("anonymous", "/console/connexion")],
        "/console/connexion/code": [Visit("password_only", "/console/connexion/code")],
        "/console/connexion/activer": [Visit("first_time", "/console/connexion/activer")],
        "/console/": [Visit("head_x", "/console/"), Visit("officer", "/console/")],
        "/console/envois/{broadcast_id}": [Visit("head_x", send)],
        "/console/envois/{broadcast_id}/suite": [Visit("head_x", f"{send}/suite")],
        "/console/envois/{broadcast_id}/{action}": [
            Visit("head_x", f"{send}/suspendre"),
            Visit("head_x", f"{send}/annuler"),
        ],
        "/console/approbations": [Visit("admin", "/console/approbations")],
        "/console/approbations/{broadcast_id}": [
            Visit("admin", f"/console/approbations/{s.pending_id}")
        ],
        "/console/rediger": [Visit("head_x", "/console/rediger")],
        "/console/rediger/familles": [Visit("head_x", "/console/rediger/familles")],
        "/console/rediger/modele/{key}": [
            Visit("head_x", "/console/rediger/modele/ent-indisponible")
        ],
        "/console/rediger/texte": [Visit("head_x", "/console/rediger/texte")],
        "/console/rediger/incident/{notice_id}": [
            Visit("head_x", f"/console/rediger/incident/{s.notice_id}")
        ],
        "/console/rediger/{broadcast_id}/audience": [Visit("head_x", f"{draft}/audience")],
        "/console/rediger/{broadcast_id}/canaux": [Visit("head_x", f"{draft}/canaux")],
        "/console/rediger/{broadcast_id}/verifier": [Visit("head_x", f"{draft}/verifier")],
        "/console/rediger/{broadcast_id}/demande": [
            Visit("head_x", f"/console/rediger/{s.queued_id}/demande")
        ],
        "/console/incidents": [Visit("officer", "/console/incidents")],
        "/console/incidents/{notice_id}": [Visit("head_x", f"/console/incidents/{s.notice_id}")],
        "/console/journal": [Visit("officer", "/console/journal")],
        "/console/connexion/oubli": [Visit("anonymous", "/console/connexion/oubli")],
        "/console/lien/{token}": [Visit("anonymous", f"/console/lien/{s.link_token}")],
        "/console/operateurs": [Visit("officer", "/console/operateurs")],
        "/console/operateurs/inviter": [Visit("officer", "/console/operateurs/inviter")],
        "/console/operateurs/{operator_id}": [Visit("officer", operator)],
        "/console/operateurs/{operator_id}/{action}": [
            Visit("officer", f"{operator}/desactiver"),
            Visit("officer", f"{operator}/second-facteur"),
        ],
        "/console/integrations/cles": [
            Visit("officer", "/console/integrations/cles"),
            Visit("head_x", "/console/integrations/cles"),
        ],
        "/console/integrations/cles/nouvelle": [
            Visit("officer", "/console/integrations/cles/nouvelle")
        ],
        "/console/integrations/cles/{key_id}": [Visit("officer", key)],
        "/console/integrations/cles/{key_id}/revocation": [Visit("officer", f"{key}/revocation")],
        "/console/integrations/webhooks": [Visit("officer", "/console/integrations/webhooks")],
        "/console/integrations/webhooks/nouveau": [
            Visit("officer", "/console/integrations/webhooks/nouveau")
        ],
        "/console/integrations/webhooks/{webhook_id}": [Visit("officer", hook)],
        "/console/integrations/webhooks/{webhook_id}/{action}": [
            Visit("officer", f"{hook}/desactivation"),
            Visit("officer", f"{hook}/suppression"),
        ],
        "/console/contacts": [
            Visit("head_x", "/console/contacts"),
            Visit("officer", "/console/contacts"),
        ],
        "/console/contacts/{contact_id}": [Visit("head_x", f"/console/contacts/{s.contact_id}")],
        "/console/opposition": [Visit("head_x", "/console/opposition")],
        "/console/opposition/{suppression_id}/lever": [
            Visit("head_x", f"/console/opposition/{s.suppression_id}/lever")
        ],
        "/console/imports": [Visit("head_x", "/console/imports")],
        "/console/imports/{import_id}": [
            Visit("head_x", f"/console/imports/{s.import_id}"),
            Visit("head_x", f"/console/imports/{s.running_import_id}"),
        ],
    }


def _not_a_page(path: str, route: APIRoute) -> bool:
    answers_json = signature(route.endpoint).return_annotation in (JSONResponse, "JSONResponse")
    return answers_json or path.endswith(".csv") or "/static/" in path or path in NOT_PAGES


def console_pages(app: FastAPI) -> list[str]:
    """Every GET route of the console answering a page."""
    return [
        path
        for context in iter_route_contexts(app.routes)
        if isinstance(route := context.original_route, APIRoute)
        and "GET" in route.methods
        and (path := context.path or "").startswith("/console")
        and not _not_a_page(path, route)
    ]


def _pattern(path: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)))


def test_every_console_page_has_a_visit(settings: Settings) -> None:
    mapped = visits(Seeded(1, 2, 3, 4))
    pages = console_pages(create_app(settings))
    assert "/console/envois/{broadcast_id}/progression" not in pages  # JSON
    assert "/console/envois/{broadcast_id}/rapport.csv" not in pages
    missing = [path for path in pages if not mapped.get(path)]
    assert missing == [], f"console pages without a visit in visits(): {missing}"
    stale = sorted(set(mapped) - set(pages))
    assert stale == [], f"visits() names routes the console no longer has: {stale}"
    wrong = [
        v.url for path, vs in mapped.items() for v in vs if not _pattern(path).fullmatch(v.url)
    ]
    assert wrong == [], f"URLs that do not match their route: {wrong}"


# -- the seeded world and the browser ------------------------------------------------------


async def _seed(settings: Settings, factory: SessionFactory) -> Seeded:
    world = await build_world(factory)
    contacts = await add_contacts(factory, guardians(world.school_x, 3))
    await add_contacts(factory, guardians(world.school_z, 2, start=50))
    async with api(settings) as client:
        queued = await api_send(
            client, world.keys["head_x"], world.school_x, {"organisation_ids": [world.school_x]}
        )
        pending = await api_send(
            client, world.keys["officer"], world.academie, {"organisation_ids": [world.academie]}
        )
        head = auth(world.keys["head_x"])
        notice = await client.post(
            "/api/v1/notices",
            headers=head,
            json={
                "organisation_id": world.school_x,
                "title": "Cantine fermée",
                "message": "La cantine est fermée ce midi.",
            },
        )
        draft = await client.post(
            "/api/v1/broadcasts",
            headers=head,
            json={
                "notice_id": notice.json()["id"],
                "audience": {"organisation_ids": [world.school_x]},
                "channels": ["email"],
            },
        )
    assert draft.status_code == 201, draft.text
    async with api(settings) as client:
        hook = await client.post(
            "/api/v1/webhooks",
            headers=auth(world.keys["officer"]),
            json={
                "organisation_id": world.academie,
                "url": "https://93.184.216.34/hooks",
                "events": ["notice.created"],
            },
        )
    assert hook.status_code == 201, hook.text
    async with transaction(factory) as session:
        academie = await session.get(Organisation, world.academie)
        assert academie is not None
        await create_operator(
            session,
            email="first_time@test.fr",
            display_name="Nouvel officier",
            role=Role.academie_officer,
            organisation=academie,
        )
        invited = await create_operator(
            session,
            email="invite@test.fr",
            display_name="Personne invitée",
            role=Role.viewer,
            organisation=academie,
        )
        link = await issue_link(session, invited, LinkPurpose.invitation)
        head_x = await session.scalar(
            select(Operator).where(col(Operator.email) == "head_x@test.fr")
        )
        assert head_x is not None and head_x.id is not None
        key = await session.scalar(select(ApiKey).where(col(ApiKey.role) == Role.academie_officer))
        assert key is not None and key.id is not None
    imports = await _imports(factory, world.school_x)
    return Seeded(
        draft.json()["id"],
        queued["id"],
        pending["id"],
        notice.json()["id"],
        head_x.id,
        link.token,
        key.id,
        hook.json()["id"],
        contact_id=contacts[0],
        import_id=imports[0],
        running_import_id=imports[1],
        suppression_id=imports[2],
    )


async def _imports(factory: SessionFactory, school_id: int) -> tuple[int, int, int]:
    """A finished import with two refused rows and a remark, one not yet run, and the first
    contact's email on the opposition list."""
    async with transaction(factory) as session:
        school = await session.get(Organisation, school_id)
        assert school is not None
        done = await create_run(session, None, school, filename="familles.csv")
        done.status, done.created, done.rejected = ImportStatus.completed, 3, 2
        done.rejections = [
            {"row": 3, "reason": "colonne « rôle » : rôle inconnu : martien", "file": "f.csv"},
            {"row": 5, "reason": "colonne « nom » : champ obligatoire vide", "file": "f.csv"},
            {"row": 6, "reason": "numéro réécrit", "file": "f.csv", "imported": True},
        ]
        waiting = await create_run(session, None, school, filename="eleves.csv")
        await suppress(session, "email", "parent0@familles.fr", "operator", "Demande écrite")
        suppression = await session.scalar(select(col(Suppression.id)))
        return row_id(done), row_id(waiting), int(suppression or 0)


async def _credentials(factory: SessionFactory) -> dict[str, Credentials]:
    return {
        "head_x": await give_password(factory, "head_x@test.fr"),
        "officer": await give_password(factory, "officer@test.fr", with_totp=True),
        "admin": await give_password(factory, "admin@test.fr", with_totp=True),
        "password_only": await give_password(factory, "head_y@test.fr", with_totp=True),
        "first_time": await give_password(factory, "first_time@test.fr"),
    }


async def _violations_as(
    browser: Browser,
    base_url: str,
    operator: str,
    credentials: Credentials | None,
    urls: list[str],
) -> dict[str, object]:
    """Each URL opened as ``operator``: its serious violations, or what it answered instead."""
    context = await french_context(browser, DESKTOP)
    page = await context.new_page()
    found: dict[str, object] = {}
    if credentials is not None and operator in ("password_only", "first_time"):
        await page.goto(f"{base_url}/console/connexion")
        await page.get_by_label("Adresse électronique").fill(credentials.email)
        await page.get_by_label("Mot de passe").fill(credentials.password)
        await page.get_by_role("button", name="Se connecter").click()
        await page.wait_for_load_state()
    elif credentials is not None:
        await sign_in_page(page, base_url, credentials)
        assert page.url == f"{base_url}/console/", f"{operator} did not sign in"
    for url in urls:
        answer = await page.goto(base_url + url)
        if answer is None or answer.status != 200 or page.url != base_url + url:
            found[url] = f"answered {answer.status if answer else None} at {page.url}"
        elif violations := await serious_violations(page):
            found[url] = violations
    await context.close()
    return found


async def test_every_console_page_has_no_serious_accessibility_violation(
    settings: Settings, factory: SessionFactory
) -> None:
    seeded = await _seed(settings, factory)
    credentials = await _credentials(factory)
    by_operator: dict[str, list[str]] = {}
    for visit_list in visits(seeded).values():
        for visit in visit_list:
            by_operator.setdefault(visit.operator, []).append(visit.url)
    async with live_server(settings) as base_url, chromium() as browser:
        found: dict[str, object] = {}
        for operator, urls in by_operator.items():
            found |= await _violations_as(
                browser, base_url, operator, credentials.get(operator), urls
            )
    assert found == {}


async def test_pages_reached_by_a_form_have_no_serious_accessibility_violation(
    settings: Settings, factory: SessionFactory
) -> None:
    """The pages only a POST shows: a new API key's one-time secret, and forms sent back with
    their error (a webhook address that is not https, an invitation to a taken address, an
    opposition to an address that is none), each checked by axe as the operator sees it."""
    await build_world(factory)
    admin = await give_password(factory, "admin@test.fr", with_totp=True)
    found: dict[str, object] = {}
    async with live_server(settings) as base_url, chromium() as browser:
        page = await (await french_context(browser, DESKTOP)).new_page()
        await sign_in_page(page, base_url, admin)

        await page.goto(f"{base_url}/console/integrations/cles/nouvelle")
        await page.get_by_label("Nom", exact=True).fill("ENT de secours")
        await page.get_by_role("button", name="Créer la clé").click()
        await page.wait_for_load_state()
        assert "elle ne sera plus jamais affichée" in await page.inner_text("main")
        found["key created"] = await serious_violations(page)

        await page.goto(f"{base_url}/console/integrations/webhooks/nouveau")
        await page.get_by_label("Adresse (https)").fill("http://exemple.invalid/crochet")
        await page.get_by_role("button", name="Ajouter le webhook").click()
        await page.wait_for_load_state()
        assert await page.get_by_role("alert").count() == 1
        found["webhook refused"] = await serious_violations(page)

        await page.goto(f"{base_url}/console/operateurs/inviter")
        await page.get_by_label("Adresse électronique").fill("officer@test.fr")
        await page.get_by_label("Nom", exact=True).fill("Doublon")
        await page.get_by_role("button", name="Envoyer l'invitation").click()
        await page.wait_for_load_state()
        assert await page.get_by_role("alert").count() == 1
        found["invitation refused"] = await serious_violations(page)

        await page.goto(f"{base_url}/console/opposition")
        await page.get_by_label("Adresse électronique ou numéro de portable").fill(
            "pas une adresse"
        )
        await page.get_by_label("Motif").fill("essai")
        await page.get_by_role("button", name="Ajouter à la liste d'opposition").click()
        await page.wait_for_load_state()
        assert await page.get_by_role("alert").count() == 1
        found["opposition refused"] = await serious_violations(page)
    assert found == {name: [] for name in found}

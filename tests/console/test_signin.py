"""Console sign-in (issue 11, item 1; RULES A3): password, second factor, throttling, CSRF,
timeouts and sign-out, through the real app, on both databases."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pyotp
import pytest
from sqlalchemy import func, select, update
from sqlmodel import col

from admin.app import create_app
from broadcast.accounts.models import AuditEvent, ConsoleSession
from broadcast.core.db import SessionFactory, transaction
from broadcast.settings import Settings
from tests.console.console_support import (
    PASSWORD,
    csrf_of,
    give_password,
    post_form,
    sign_in,
)
from tests.support import api, build_world


async def _audited(factory: SessionFactory, action: str) -> int:
    async with factory() as session:
        query = select(func.count()).where(col(AuditEvent.action) == action)
        return int(await session.scalar(query) or 0)


async def test_head_teacher_signs_in_with_password_and_sees_his_dashboard(
    settings: Settings, factory: SessionFactory
) -> None:
    await build_world(factory)
    head = await give_password(factory, "head_x@test.fr")
    async with api(settings) as client:
        answer = await sign_in(client, head)
        assert answer.status_code == 303 and answer.headers["location"] == "/console/"
        cookie = answer.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
        home = await client.get("/console/")
    assert home.status_code == 200
    assert "Tableau de bord" in home.text and "head_x" in home.text
    assert "Aucun incident en cours." in home.text
    assert await _audited(factory, "signin") == 1


async def test_session_cookie_is_secure_outside_dev(
    settings: Settings, factory: SessionFactory
) -> None:
    await build_world(factory)
    head = await give_password(factory, "head_x@test.fr")
    production = settings.model_copy(update={"env": "prod"})
    app = create_app(production)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
            answer = await sign_in(client, head)
    assert answer.status_code == 303 and "Secure" in answer.headers["set-cookie"]


async def test_wrong_password_is_refused_then_throttled(
    settings: Settings, factory: SessionFactory
) -> None:
    await build_world(factory)
    head = await give_password(factory, "head_x@test.fr")
    wrong = {"email": head.email, "password": "pas le bon mot de passe"}
    async with api(settings) as client:
        for _ in range(5):
            refused = await post_form(client, "/console/connexion", wrong)
            assert refused.status_code == 401
            assert "Adresse ou mot de passe incorrect." in refused.text
        throttled = await sign_in(client, head)  # even the right password, now
        assert throttled.status_code == 429
        assert "Trop de tentatives de connexion" in throttled.text
        assert (await client.get("/console/")).status_code == 303
    assert await _audited(factory, "signin.failed") == 5


async def test_unknown_address_reads_like_a_wrong_password(
    settings: Settings, factory: SessionFactory
) -> None:
    await build_world(factory)
    async with api(settings) as client:
        answer = await post_form(
            client, "/console/connexion", {"email": "personne@test.fr", "password": PASSWORD}
        )
    assert answer.status_code == 401 and "Adresse ou mot de passe incorrect." in answer.text


async def test_a_form_without_its_token_is_refused(
    settings: Settings, factory: SessionFactory
) -> None:
    await build_world(factory)
    head = await give_password(factory, "head_x@test.fr")
    async with api(settings) as client:
        await client.get("/console/connexion")
        forged = await client.post(
            "/console/connexion", data={"email": head.email, "password": head.password}
        )
        assert forged.status_code == 403
        assert "Ce formulaire a expiré" in forged.text
        await sign_in(client, head)
        no_token = await client.post("/console/deconnexion")
        assert no_token.status_code == 403
        assert (await client.get("/console/")).status_code == 200  # still signed in


async def test_officer_activates_a_second_factor_then_needs_it(
    settings: Settings, factory: SessionFactory
) -> None:
    await build_world(factory)
    officer = await give_password(factory, "officer@test.fr")  # no second factor yet
    async with api(settings) as client:
        answer = await sign_in(client, officer)
        assert answer.headers["location"].startswith("/console/connexion/activer")
        assert (await client.get("/console/")).status_code == 303  # not signed in yet
        activation = await client.get(answer.headers["location"])
        secret = re.search(r'name="secret" value="([A-Z2-7]+)"', activation.text)
        assert secret and "otpauth://totp/" in activation.text
        wrong = await client.post(
            "/console/connexion/activer",
            data={
                "csrf": csrf_of(activation),
                "secret": secret.group(1),
                "seal": re.search(r'name="seal" value="(\w+)"', activation.text).group(1),  # type: ignore[union-attr]
                "code": "000000",
            },
        )
        assert wrong.status_code == 401 and "Ce code ne correspond pas" in wrong.text
        first_code = pyotp.TOTP(secret.group(1)).now()
        done = await client.post(
            "/console/connexion/activer",
            data={
                "csrf": csrf_of(wrong),
                "secret": secret.group(1),
                "seal": re.search(r'name="seal" value="(\w+)"', wrong.text).group(1),  # type: ignore[union-attr]
                "code": first_code,
            },
        )
        assert done.status_code == 200 and "Codes de secours" in done.text
        codes = re.findall(r"<code>([0-9a-f]{6}-[0-9a-f]{6})</code>", done.text)
        assert len(codes) == 10
        assert (await client.get("/console/")).status_code == 200

    async with api(settings) as client:
        answer = await post_form(
            client, "/console/connexion", {"email": officer.email, "password": PASSWORD}
        )
        assert answer.headers["location"].startswith("/console/connexion/code")
        # the very code used at activation (a fresh now() may fall in the next 30 s step)
        replayed = await post_form(client, "/console/connexion/code", {"code": first_code})
        assert replayed.status_code == 401 and "déjà servi" in replayed.text
        recovered = await post_form(client, "/console/connexion/code", {"code": codes[0]})
        assert recovered.status_code == 303
        assert (await client.get("/console/")).status_code == 200

    async with api(settings) as client:  # a recovery code is good once
        await post_form(
            client, "/console/connexion", {"email": officer.email, "password": PASSWORD}
        )
        again = await post_form(client, "/console/connexion/code", {"code": codes[0]})
        assert again.status_code == 401


async def test_sign_in_rotates_the_session(settings: Settings, factory: SessionFactory) -> None:
    await build_world(factory)
    officer = await give_password(factory, "officer@test.fr", with_totp=True)
    async with api(settings) as client:
        first = await post_form(
            client, "/console/connexion", {"email": officer.email, "password": PASSWORD}
        )
        half = first.cookies["bc_session"]
        assert officer.totp_secret is not None
        second = await post_form(
            client, "/console/connexion/code", {"code": pyotp.TOTP(officer.totp_secret).now()}
        )
        assert second.status_code == 303 and second.cookies["bc_session"] != half
    async with factory() as session:
        assert await session.scalar(select(func.count()).select_from(ConsoleSession)) == 1


@pytest.mark.parametrize(
    "idle, absolute", [(timedelta(minutes=31), None), (None, timedelta(hours=13))]
)
async def test_an_expired_session_goes_back_to_sign_in(
    settings: Settings,
    factory: SessionFactory,
    idle: timedelta | None,
    absolute: timedelta | None,
) -> None:
    await build_world(factory)
    head = await give_password(factory, "head_x@test.fr")
    async with api(settings) as client:
        await sign_in(client, head)
        async with transaction(factory) as session:
            row = await session.scalar(select(ConsoleSession))
            assert row is not None
            changes = {}
            if idle:
                changes["last_seen_at"] = row.last_seen_at - idle
            if absolute:
                changes["created_at"] = row.created_at - absolute
            await session.execute(update(ConsoleSession).values(**changes))
        answer = await client.get("/console/")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/console/connexion?suite=/console/&fin=expiree"
        page = await client.get(answer.headers["location"])
    assert "Votre session a expiré." in page.text


async def test_sign_out_ends_the_session(settings: Settings, factory: SessionFactory) -> None:
    await build_world(factory)
    head = await give_password(factory, "head_x@test.fr")
    async with api(settings) as client:
        await sign_in(client, head)
        home = await client.get("/console/")
        out = await client.post("/console/deconnexion", data={"csrf": csrf_of(home)})
        assert out.status_code == 303
        page = await client.get(out.headers["location"])
        assert "Vous êtes déconnecté." in page.text
        assert (await client.get("/console/")).status_code == 303
    assert await _audited(factory, "signout") == 1
    async with factory() as session:
        assert await session.scalar(select(func.count()).select_from(ConsoleSession)) == 0


async def test_api_keys_keep_working_beside_sessions(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    async with api(settings) as client:
        answer = await client.get(
            "/api/v1/me", headers={"Authorization": f"Bearer {world.keys['head_x']}"}
        )
        assert answer.status_code == 200
        assert (await client.get("/console/", headers={"Authorization": "x"})).status_code == 303

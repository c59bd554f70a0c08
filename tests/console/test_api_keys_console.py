"""Clés d'API in the console (issue 11, item 9): a key made with a role and an organisation of
the creator's scope works against the API at once, its secret is shown on the answer only,
its revocation (confirmed) is refused by the API on the next call; a role above one's own is
refused in French; a head teacher reads his school's keys and no other's (404). Both
databases."""

from __future__ import annotations

import re
from html import unescape

from sqlalchemy import select, update
from sqlmodel import col

from broadcast.accounts.models import ApiKey, AuditEvent, Operator
from broadcast.core.db import SessionFactory, transaction
from broadcast.directory.uai import make_uai
from broadcast.settings import Settings
from tests.console.console_support import give_password, post_form, sign_in
from tests.support import api, auth, build_world

NEW = "/console/integrations/cles/nouvelle"
_SECRET = re.compile(r'id="secret"[^>]*value="(bc_[^"]+)"')


async def _key_of(factory: SessionFactory, email: str) -> ApiKey:
    async with factory() as session:
        key = await session.scalar(
            select(ApiKey)
            .join(Operator, col(Operator.id) == col(ApiKey.operator_id))
            .where(col(Operator.email) == email)
        )
        assert key is not None
        return key


async def test_a_key_is_shown_once_works_in_its_scope_and_is_refused_once_revoked(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    officer = await give_password(factory, "officer@test.fr", with_totp=True)
    async with api(settings) as client:
        await sign_in(client, officer)
        form = await client.get(NEW)
        created = await post_form(
            client,
            "/console/integrations/cles",
            {"name": "ENT du collège", "organisation": str(world.school_x), "role": "head_teacher"},
            from_page=NEW,
        )
        found = _SECRET.search(created.text)
        assert found, created.text
        secret = found.group(1)
        organisations = await client.get("/api/v1/organisations", headers=auth(secret))
        elsewhere = await client.post(
            "/api/v1/notices",
            headers=auth(secret),
            json={"organisation_id": world.school_y, "title": "Panne", "message": "Panne."},
        )
        listed = await client.get("/console/integrations/cles")
        async with factory() as session:
            key = await session.scalar(select(ApiKey).where(col(ApiKey.name) == "ENT du collège"))
        assert key is not None
        shown = await client.get(f"/console/integrations/cles/{key.id}")
        confirm = await client.get(f"/console/integrations/cles/{key.id}/revocation")
        revoked = await post_form(client, f"/console/integrations/cles/{key.id}/revocation", {})
        after = await client.get("/console/integrations/cles?fait=revoquee")
        refused = await client.get("/api/v1/organisations", headers=auth(secret))
    assert (
        form.status_code == 200 and "Une clé n&#39;a jamais plus de droits que vous." in form.text
    )
    assert created.status_code == 200
    assert "elle ne sera plus jamais affichée" in created.text
    assert organisations.status_code == 200, organisations.text
    assert [o["code"] for o in organisations.json()] == [make_uai("0670100")]
    assert elsewhere.status_code == 404  # the key acts at school X, not at the académie
    assert listed.status_code == 200 and "ENT du collège" in listed.text
    assert secret not in listed.text and secret not in shown.text
    assert key.role == "head_teacher" and key.organisation_id == world.school_x
    assert key.last_used_at is not None
    assert "Chef d&#39;établissement" in shown.text and "officer" in shown.text
    assert confirm.status_code == 200 and "Révoquer définitivement" in confirm.text
    assert revoked.status_code == 303
    assert "Clé révoquée : l&#39;API la refuse désormais." in after.text
    assert "révoquée le" in after.text
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "Cette clé d'API a été révoquée."
    async with transaction(factory) as session:
        actions = (
            await session.execute(
                select(col(AuditEvent.action))
                .where(col(AuditEvent.object_type) == "api_key")
                .order_by(col(AuditEvent.id))
            )
        ).scalars()
        assert list(actions) == ["api_key.create", "api_key.revoke"]


async def test_a_key_above_ones_own_role_or_outside_its_place_is_refused(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    officer = await give_password(factory, "officer@test.fr", with_totp=True)
    head = await give_password(factory, "head_x@test.fr")
    async with api(settings) as client:
        await sign_in(client, officer)
        above = await post_form(
            client,
            "/console/integrations/cles",
            {"name": "Trop", "organisation": str(world.academie), "role": "platform_admin"},
            from_page=NEW,
        )
        misplaced = await post_form(
            client,
            "/console/integrations/cles",
            {"name": "Mal placée", "organisation": str(world.academie), "role": "head_teacher"},
            from_page=NEW,
        )
        outside = await post_form(
            client,
            "/console/integrations/cles",
            {"name": "Ailleurs", "organisation": str(world.region), "role": "viewer"},
            from_page=NEW,
        )
        nameless = await post_form(
            client,
            "/console/integrations/cles",
            {"name": " ", "organisation": str(world.academie), "role": "viewer"},
            from_page=NEW,
        )
    async with api(settings) as client:
        await sign_in(client, head)
        page = await client.get("/console/integrations/cles")
        form = await client.get(NEW)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf
        posted = await client.post(
            "/console/integrations/cles",
            data={
                "csrf": csrf.group(1),
                "name": "x",
                "organisation": str(world.school_x),
                "role": "viewer",
            },
        )
    assert above.status_code == 422
    assert "Ce rôle n'est pas possible : une clé n'a jamais plus de droits que vous." in unescape(
        above.text
    )
    assert 'value="Trop"' in above.text  # what was typed is kept
    assert misplaced.status_code == 422
    assert "Ce rôle ne peut pas être rattaché à cette organisation." in unescape(misplaced.text)
    assert outside.status_code == 422 and "Organisation introuvable." in outside.text
    assert nameless.status_code == 422 and "Donnez un nom à la clé." in nameless.text
    assert "Administrateur de la plateforme" not in above.text.split('id="role"')[1]
    assert page.status_code == 200 and "Créer une clé" not in page.text
    assert form.status_code == 403 and posted.status_code == 403
    async with factory() as session:
        names = (await session.execute(select(col(ApiKey.name)))).scalars()
        assert set(names) == {"test"}


async def test_a_head_teacher_reads_his_schools_keys_and_no_other(
    settings: Settings, factory: SessionFactory
) -> None:
    await build_world(factory)
    head = await give_password(factory, "head_x@test.fr")
    own = await _key_of(factory, "head_x@test.fr")
    other = await _key_of(factory, "head_y@test.fr")
    async with api(settings) as client:
        await sign_in(client, head)
        dashboard = await client.get("/console/")
        listed = await client.get("/console/integrations/cles")
        mine = await client.get(f"/console/integrations/cles/{own.id}")
        theirs = await client.get(f"/console/integrations/cles/{other.id}")
        webhooks = await client.get("/console/integrations/webhooks")
    assert (
        'href="/console/integrations/cles"' in dashboard.text and "Intégrations" in dashboard.text
    )
    assert own.prefix in listed.text and other.prefix not in listed.text
    assert "head_x" in listed.text and "viewer_x" in listed.text and "head_y" not in listed.text
    assert mine.status_code == 200 and "Révoquer cette clé" not in mine.text
    assert theirs.status_code == 404
    assert webhooks.status_code == 403
    assert 'href="/console/integrations/webhooks"' not in listed.text


async def test_a_key_is_refused_once_its_author_has_fewer_rights_than_it(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    officer = await give_password(factory, "officer@test.fr", with_totp=True)
    async with api(settings) as client:
        await sign_in(client, officer)
        created = await post_form(
            client,
            "/console/integrations/cles",
            {"name": "Supervision", "organisation": str(world.dep67), "role": "academie_officer"},
            from_page=NEW,
        )
        found = _SECRET.search(created.text)
        assert found, created.text
        before = await client.get("/api/v1/organisations", headers=auth(found.group(1)))
        async with transaction(factory) as session:
            await session.execute(
                update(Operator).where(col(Operator.email) == officer.email).values(role="viewer")
            )
        after = await client.get("/api/v1/organisations", headers=auth(found.group(1)))
    assert before.status_code == 200
    codes = {o["code"] for o in before.json()}
    assert "67" in codes and not codes & {"STRAS", "68", make_uai("0680300")}  # the key's place
    assert after.status_code == 401
    assert "plus de droits que son auteur" in after.json()["error"]["message"]

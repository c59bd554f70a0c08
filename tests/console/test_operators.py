"""Operators' accounts in the console (issue 11, items 1 and 9): invitation and password reset
by one-time emailed links (received by the SMTP sink), and Administration > Opérateurs
(invite, role, disable, second factor), through the real app, on both databases."""

from __future__ import annotations

import hashlib
import html
import re
from datetime import timedelta

import httpx
import pyotp
from sqlalchemy import func, select, update
from sqlmodel import col

from broadcast.accounts.models import AuditEvent, ConsoleSession, Operator, OperatorLink
from broadcast.core.db import SessionFactory, transaction
from broadcast.core.timeutil import utcnow
from broadcast.directory.models import Organisation
from broadcast.directory.uai import make_uai
from broadcast.sandbox.smtp import SmtpSink
from broadcast.settings import Settings
from tests.console.console_support import (
    PASSWORD,
    Credentials,
    csrf_of,
    give_password,
    post_form,
    sign_in,
)
from tests.support import api, build_world

NEW_PASSWORD = "une autre phrase de passe, plus longue"
_LINK = re.compile(r"https://broadcast\.test(/console/lien/[\w-]+)")
ROLE_VALUES = {"viewer", "head_teacher", "academie_officer", "platform_admin"}
SAME_ANSWER = "Si un compte correspond à cette adresse"


def link_in(sink: SmtpSink, to: str) -> str:
    """The path of the link of the last email to ``to``."""
    messages = sink.by_recipient().get(to, [])
    assert messages, f"no email to {to}"
    body = messages[-1].message.get_content()
    found = _LINK.search(body)
    assert found, body
    return found.group(1)


async def _audited(factory: SessionFactory, action: str) -> int:
    async with factory() as session:
        query = select(func.count()).where(col(AuditEvent.action) == action)
        return int(await session.scalar(query) or 0)


async def _operator(factory: SessionFactory, email: str) -> Operator:
    async with factory() as session:
        operator = await session.scalar(select(Operator).where(col(Operator.email) == email))
        assert operator is not None, email
        return operator


async def _sessions(factory: SessionFactory, email: str) -> int:
    operator = await _operator(factory, email)
    async with factory() as session:
        query = select(func.count()).where(col(ConsoleSession.operator_id) == operator.id)
        return int(await session.scalar(query) or 0)


async def _choose_password(
    client: httpx.AsyncClient, path: str, password: str = NEW_PASSWORD
) -> httpx.Response:
    return await post_form(client, path, {"password": password, "confirmation": password})


async def test_an_invited_officer_follows_the_emailed_link_and_activates_his_second_factor(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    await build_world(factory)
    admin = await give_password(factory, "admin@test.fr", with_totp=True)
    async with api(settings) as client:
        await sign_in(client, admin)
        form = await client.get("/console/operateurs/inviter")
        assert form.status_code == 200 and "Inviter un opérateur" in form.text
        invited = await post_form(
            client,
            "/console/operateurs/inviter",
            {
                "email": "Nouvelle.Officier@test.fr",
                "nom": "Nouvelle Officier",
                "role": "academie_officer",
                "organisation": "stras",
            },
        )
        assert invited.status_code == 303
        shown = await client.get(invited.headers["location"])
        assert "Invitation envoyée." in shown.text and "nouvelle.officier@test.fr" in shown.text
        listed = await client.get("/console/operateurs")
        assert "Nouvelle Officier" in listed.text and "n***r@t***.fr" in listed.text
        assert "Invité, mot de passe pas encore choisi" in listed.text

    path = link_in(sink, "nouvelle.officier@test.fr")
    assert "admin vous invite" in sink.messages[-1].message.get_content()
    token = path.rsplit("/", 1)[1]
    async with factory() as session:
        link = await session.scalar(select(OperatorLink))
        assert link is not None and link.purpose == "invitation"
        assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in (link.token_hash, str(link.model_dump()))
        assert timedelta(hours=71) < link.expires_at - link.created_at <= timedelta(hours=72)

    async with api(settings) as client:
        page = await client.get(path)
        assert page.status_code == 200 and "Choisir votre mot de passe" in page.text
        assert page.headers["referrer-policy"] == "no-referrer"
        short = await _choose_password(client, path, "court")
        assert short.status_code == 422 and "au moins 12 caractères" in html.unescape(short.text)
        mismatch = await post_form(
            client, path, {"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD + "x"}
        )
        assert mismatch.status_code == 422 and "pas identiques" in mismatch.text
        chosen = await _choose_password(client, path)
        assert chosen.status_code == 303
        assert chosen.headers["location"] == "/console/connexion/activer"  # his role needs TOTP
        assert (await client.get("/console/")).status_code == 303  # not signed in yet
        activation = await client.get("/console/connexion/activer")
        secret = re.search(r'name="secret" value="([A-Z2-7]+)"', activation.text)
        seal = re.search(r'name="seal" value="(\w+)"', activation.text)
        assert secret and seal
        done = await client.post(
            "/console/connexion/activer",
            data={
                "csrf": csrf_of(activation),
                "secret": secret.group(1),
                "seal": seal.group(1),
                "code": pyotp.TOTP(secret.group(1)).now(),
            },
        )
        assert done.status_code == 200 and "Codes de secours" in done.text
        home = await client.get("/console/")
        assert home.status_code == 200 and "Nouvelle Officier" in home.text
    assert await _audited(factory, "operator.invite") == 1
    assert await _audited(factory, "operator.invitation_accepted") == 1
    assert (await _operator(factory, "nouvelle.officier@test.fr")).last_signed_in_at is not None


async def test_an_invited_head_teacher_is_signed_in_by_his_link(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    await build_world(factory)
    officer = await give_password(factory, "officer@test.fr", with_totp=True)
    async with api(settings) as client:
        await sign_in(client, officer)
        invited = await post_form(
            client,
            "/console/operateurs/inviter",
            {
                "email": "principal@test.fr",
                "nom": "M. Principal",
                "role": "head_teacher",
                "organisation": make_uai("0670100"),
            },
        )
        assert invited.status_code == 303, invited.text
    async with api(settings) as client:
        chosen = await _choose_password(client, link_in(sink, "principal@test.fr"))
        assert chosen.status_code == 303 and chosen.headers["location"] == "/console/"
        home = await client.get("/console/")
        assert home.status_code == 200 and "M. Principal" in home.text
    assert await _audited(factory, "signin") == 2  # the officer's, then the link's


async def test_a_used_a_replaced_or_an_expired_link_answers_410(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    await build_world(factory)
    admin = await give_password(factory, "admin@test.fr", with_totp=True)
    async with api(settings) as client:
        await sign_in(client, admin)
        invited = await post_form(
            client,
            "/console/operateurs/inviter",
            {"email": "a@test.fr", "nom": "A", "role": "viewer", "organisation": "STRAS"},
        )
        operator_page = invited.headers["location"].split("?")[0]
        first = link_in(sink, "a@test.fr")
        again = await post_form(
            client, f"{operator_page}/invitation", {}, from_page=f"{operator_page}/invitation"
        )
        assert again.status_code == 303
        second = link_in(sink, "a@test.fr")
        assert first != second and len(sink.messages) == 2
    assert await _audited(factory, "operator.invite_again") == 1
    async with api(settings) as client:
        replaced = await client.get(first)
        assert replaced.status_code == 410 and "n'est plus valable" in html.unescape(replaced.text)
        assert (await _choose_password(client, second)).status_code == 303
        used = await client.get(second)
        assert used.status_code == 410 and "Demander un nouveau lien" in used.text
        assert (await client.get("/console/lien/nimporte-quoi")).status_code == 410

    head = await give_password(factory, "head_x@test.fr")
    async with api(settings) as client:
        await post_form(client, "/console/connexion/oubli", {"email": head.email})
        path = link_in(sink, head.email)
    async with transaction(factory) as session:
        await session.execute(update(OperatorLink).values(created_at=utcnow() - timedelta(hours=2)))
        await session.execute(
            update(OperatorLink).values(expires_at=utcnow() - timedelta(minutes=1))
        )
    async with api(settings) as client:
        expired = await client.get(path)
        assert expired.status_code == 410
        posted = await post_form(
            client,
            path,
            {"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD},
            from_page="/console/connexion/oubli",  # the form's token, as a page kept open has
        )
        assert posted.status_code == 410
    async with api(settings) as client:  # the password it would have replaced still works
        assert (await sign_in(client, head)).status_code == 303


async def test_a_reset_request_answers_the_same_for_any_address_and_mails_only_an_account(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    await build_world(factory)
    head = await give_password(factory, "head_x@test.fr")
    async with api(settings) as client:
        sign_in_page = await client.get("/console/connexion")
        assert 'href="/console/connexion/oubli"' in sign_in_page.text
        assert "Mot de passe oublié ?" in sign_in_page.text
        unknown = await post_form(client, "/console/connexion/oubli", {"email": "personne@test.fr"})
        known = await post_form(client, "/console/connexion/oubli", {"email": head.email})
    assert unknown.status_code == known.status_code == 200
    assert SAME_ANSWER in unknown.text and unknown.text == known.text
    assert [m.rcpt_tos for m in sink.messages] == [[head.email]]
    assert sink.messages[0].subject == "Nouveau mot de passe pour la console de diffusion"
    async with factory() as session:
        link = await session.scalar(select(OperatorLink))
        assert link is not None and link.purpose == "reset"
        assert timedelta(minutes=59) < link.expires_at - link.created_at <= timedelta(hours=1)
    assert await _audited(factory, "password.reset_requested") == 1
    assert await _audited(factory, "password.reset_unknown") == 1


async def test_reset_requests_are_throttled_per_address_asked_and_per_client(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    await build_world(factory)
    head = await give_password(factory, "head_x@test.fr")
    async with api(settings) as client:
        for _ in range(3):
            answer = await post_form(client, "/console/connexion/oubli", {"email": head.email})
            assert answer.status_code == 200
        throttled = await post_form(client, "/console/connexion/oubli", {"email": head.email})
        assert throttled.status_code == 429 and "Trop de demandes" in throttled.text
        for n in range(6):  # ten requests in all from this client
            answer = await post_form(client, "/console/connexion/oubli", {"email": f"x{n}@test.fr"})
            assert answer.status_code == 200
        from_here = await post_form(client, "/console/connexion/oubli", {"email": "y@test.fr"})
        assert from_here.status_code == 429
    assert len(sink.messages) == 3


async def test_a_reset_closes_the_other_sessions_and_keeps_the_second_factor(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    await build_world(factory)
    head = await give_password(factory, "head_x@test.fr")
    officer = await give_password(factory, "officer@test.fr", with_totp=True)
    async with api(settings) as elsewhere, api(settings) as here:
        assert (await sign_in(elsewhere, head)).status_code == 303
        assert (await elsewhere.get("/console/")).status_code == 200
        await post_form(here, "/console/connexion/oubli", {"email": head.email})
        chosen = await _choose_password(here, link_in(sink, head.email))
        assert chosen.status_code == 303 and chosen.headers["location"] == "/console/"
        assert (await here.get("/console/")).status_code == 200
        signed_out = await elsewhere.get("/console/")
        assert (
            signed_out.status_code == 303 and "/console/connexion" in signed_out.headers["location"]
        )
    assert await _sessions(factory, head.email) == 1
    assert await _audited(factory, "password.reset") == 1
    async with api(settings) as client:
        old = await sign_in(client, head)
        assert old.status_code == 401
        new = await sign_in(client, Credentials(head.email, NEW_PASSWORD, None))
        assert new.status_code == 303

    async with api(settings) as client:  # an officer's link leads to his code, not in
        await post_form(client, "/console/connexion/oubli", {"email": officer.email})
        chosen = await _choose_password(client, link_in(sink, officer.email))
        assert chosen.headers["location"] == "/console/connexion/code"
        assert (await client.get("/console/")).status_code == 303
        assert officer.totp_secret is not None
        code = pyotp.TOTP(officer.totp_secret).now()
        assert (
            await post_form(client, "/console/connexion/code", {"code": code})
        ).status_code == 303
        assert (await client.get("/console/")).status_code == 200


async def test_a_head_teacher_has_no_operators_pages_and_an_officer_sees_his_scope_only(
    settings: Settings, factory: SessionFactory
) -> None:
    await build_world(factory)
    head = await give_password(factory, "head_x@test.fr")
    officer = await give_password(factory, "officer@test.fr", with_totp=True)
    admin_id = (await _operator(factory, "admin@test.fr")).id
    head_y_id = (await _operator(factory, "head_y@test.fr")).id
    async with api(settings) as client:
        await sign_in(client, head)
        home = await client.get("/console/")
        assert "/console/operateurs" not in home.text
        for path in (
            "/console/operateurs",
            "/console/operateurs/inviter",
            f"/console/operateurs/{head_y_id}",
        ):
            refused = await client.get(path)
            assert refused.status_code == 403, path
            assert "Votre rôle ne permet pas cette action." in html.unescape(refused.text)
    async with api(settings) as client:
        await sign_in(client, officer)
        assert 'href="/console/operateurs"' in (await client.get("/console/")).text
        listed = await client.get("/console/operateurs")
        assert listed.status_code == 200
        assert "head_x" in listed.text and "h***x@t***.fr" in listed.text
        assert ">admin<" not in listed.text  # anchored above the académie
        assert (await client.get(f"/console/operateurs/{admin_id}")).status_code == 404
        assert (await client.get(f"/console/operateurs/{admin_id}/desactiver")).status_code == 404
        assert (await client.get(f"/console/operateurs/{head_y_id}")).status_code == 200


async def test_the_invitation_offers_the_organisations_within_scope_under_their_parents(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    await build_world(factory)
    officer = await give_password(factory, "officer@test.fr", with_totp=True)
    async with api(settings) as client:
        await sign_in(client, officer)
        form = await client.get("/console/operateurs/inviter")
        options = re.findall(r'<option value="([^"]+)"( selected)?>([^<]*)</option>', form.text)
        offered = [(code, label.replace("\xa0", " ").rstrip()) for code, _, label in options]
        organisations = [entry for entry in offered if entry[0] not in ROLE_VALUES]
        assert organisations == [
            ("STRAS", "Org STRAS (STRAS)"),
            ("67", "   Org 67 (67)"),
            (make_uai("0670100"), f"      Org {make_uai('0670100')} ({make_uai('0670100')})"),
            (make_uai("0670200"), f"      Org {make_uai('0670200')} ({make_uai('0670200')})"),
            ("68", "   Org 68 (68)"),
            (make_uai("0680300"), f"      Org {make_uai('0680300')} ({make_uai('0680300')})"),
        ]  # the region above the officer's académie is not offered
        chosen = [code for code, selected, _ in options if selected and code not in ROLE_VALUES]
        assert chosen == ["STRAS"]  # his own organisation, until he picks another
        invited = await post_form(
            client,
            "/console/operateurs/inviter",
            {"email": "cpe@test.fr", "nom": "CPE", "role": "viewer", "organisation": "68"},
        )
        assert invited.status_code == 303
    cpe = await _operator(factory, "cpe@test.fr")
    async with factory() as session:
        organisation = await session.get(Organisation, cpe.organisation_id)
    assert organisation is not None and organisation.code == "68"


async def test_a_role_above_ones_own_or_a_wrong_organisation_is_refused(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    await build_world(factory)
    officer = await give_password(factory, "officer@test.fr", with_totp=True)
    head_x_id = (await _operator(factory, "head_x@test.fr")).id
    async with api(settings) as client:
        await sign_in(client, officer)
        above = await post_form(
            client,
            "/console/operateurs/inviter",
            {
                "email": "chef@test.fr",
                "nom": "Chef",
                "role": "platform_admin",
                "organisation": "STRAS",
            },
        )
        assert above.status_code == 403
        assert "rôle supérieur au vôtre" in html.unescape(above.text)
        assert 'value="chef@test.fr"' in above.text  # what was typed is kept
        wrong_kind = await post_form(
            client,
            "/console/operateurs/inviter",
            {
                "email": "chef@test.fr",
                "nom": "Chef",
                "role": "head_teacher",
                "organisation": "STRAS",
            },
        )
        assert wrong_kind.status_code == 422
        assert "se rattache à un établissement" in html.unescape(wrong_kind.text)
        outside = await post_form(
            client,
            "/console/operateurs/inviter",
            {"email": "chef@test.fr", "nom": "Chef", "role": "viewer", "organisation": "GE"},
        )
        assert outside.status_code == 422 and "dans votre périmètre" in html.unescape(outside.text)
        taken = await post_form(
            client,
            "/console/operateurs/inviter",
            {"email": "head_y@test.fr", "nom": "Y", "role": "viewer", "organisation": "STRAS"},
        )
        assert taken.status_code == 422 and "déjà cette adresse" in html.unescape(taken.text)
        promoted = await post_form(
            client,
            f"/console/operateurs/{head_x_id}/role",
            {"role": "platform_admin", "organisation": "STRAS"},
            from_page=f"/console/operateurs/{head_x_id}",
        )
        assert promoted.status_code == 403
        assert "rôle supérieur au vôtre" in html.unescape(promoted.text)
        moved = await post_form(
            client,
            f"/console/operateurs/{head_x_id}/role",
            {"role": "viewer", "organisation": "67"},
            from_page=f"/console/operateurs/{head_x_id}",
        )
        assert moved.status_code == 303
        assert "Rôle modifié" in (await client.get(moved.headers["location"])).text
    head_x = await _operator(factory, "head_x@test.fr")
    assert head_x.role == "viewer"
    async with factory() as session:
        assert await session.scalar(select(func.count()).select_from(Operator)) == 5
    assert sink.messages == []
    assert await _audited(factory, "operator.invite") == 0
    assert await _audited(factory, "operator.role") == 1


async def test_disabling_closes_a_live_session_and_enabling_lets_him_back(
    settings: Settings, factory: SessionFactory
) -> None:
    await build_world(factory)
    head = await give_password(factory, "head_x@test.fr")
    officer = await give_password(factory, "officer@test.fr", with_totp=True)
    head_id = (await _operator(factory, head.email)).id
    officer_id = (await _operator(factory, officer.email)).id
    async with api(settings) as teacher, api(settings) as manager:
        await sign_in(teacher, head)
        assert (await teacher.get("/console/")).status_code == 200
        await sign_in(manager, officer)
        confirm = await manager.get(f"/console/operateurs/{head_id}/desactiver")
        assert confirm.status_code == 200 and "Désactiver le compte ?" in confirm.text
        done = await manager.post(
            f"/console/operateurs/{head_id}/desactiver", data={"csrf": csrf_of(confirm)}
        )
        assert done.status_code == 303
        shown = await manager.get(done.headers["location"])
        assert "Compte désactivé" in shown.text and "Désactivé" in shown.text
        gone = await teacher.get("/console/")
        assert gone.status_code == 303 and "/console/connexion" in gone.headers["location"]
        assert (await sign_in(teacher, head)).status_code == 401
        oneself = await post_form(
            manager,
            f"/console/operateurs/{officer_id}/desactiver",
            {},
            from_page=f"/console/operateurs/{officer_id}/desactiver",
        )
        assert oneself.status_code == 422 and "votre propre compte" in oneself.text
        await post_form(
            manager,
            f"/console/operateurs/{head_id}/reactiver",
            {},
            from_page=f"/console/operateurs/{head_id}/reactiver",
        )
        assert (await sign_in(teacher, head)).status_code == 303
    assert await _audited(factory, "operator.disable") == 1
    assert await _audited(factory, "operator.enable") == 1


async def test_resetting_the_second_factor_makes_the_next_sign_in_activate_it_again(
    settings: Settings, factory: SessionFactory
) -> None:
    await build_world(factory)
    admin = await give_password(factory, "admin@test.fr", with_totp=True)
    officer = await give_password(factory, "officer@test.fr", with_totp=True)
    officer_id = (await _operator(factory, officer.email)).id
    async with api(settings) as manager, api(settings) as target:
        await sign_in(target, officer)
        assert (await target.get("/console/")).status_code == 200
        await sign_in(manager, admin)
        shown = await manager.get(f"/console/operateurs/{officer_id}")
        assert "Réinitialiser le second facteur" in shown.text
        done = await post_form(
            manager,
            f"/console/operateurs/{officer_id}/second-facteur",
            {},
            from_page=f"/console/operateurs/{officer_id}/second-facteur",
        )
        assert done.status_code == 303
        assert (await target.get("/console/")).status_code == 303
    async with api(settings) as client:
        again = await post_form(
            client, "/console/connexion", {"email": officer.email, "password": PASSWORD}
        )
        assert again.headers["location"].startswith("/console/connexion/activer")
    reset = await _operator(factory, officer.email)
    assert reset.totp_secret is None and reset.recovery_codes == []
    assert await _audited(factory, "operator.second_factor_reset") == 1


async def test_an_english_operator_manages_operators_in_english(
    settings: Settings, factory: SessionFactory
) -> None:
    await build_world(factory)
    officer = await give_password(factory, "officer@test.fr", with_totp=True)
    head_x_id = (await _operator(factory, "head_x@test.fr")).id
    async with transaction(factory) as session:
        await session.execute(
            update(Operator).where(col(Operator.email) == officer.email).values(locale="en")
        )
    async with api(settings) as client:
        forgot = await client.get("/console/connexion/oubli", headers={"accept-language": "en"})
        assert "Forgotten password" in forgot.text and "Send me a link" in forgot.text
        await sign_in(client, officer)
        listed = await client.get("/console/operateurs")
        shown = await client.get(f"/console/operateurs/{head_x_id}")
        confirm = await client.get(f"/console/operateurs/{head_x_id}/desactiver")
    assert "Invite an operator" in listed.text and "Head teacher" in listed.text
    assert "Last sign-in" in listed.text and "never" in listed.text
    assert "Role and organisation" in shown.text and "Disable the account" in shown.text
    assert "Disable the account?" in confirm.text

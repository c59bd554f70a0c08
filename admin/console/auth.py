"""Sign-in pages: password, then the second factor (or its first activation), and sign-out.
The rules (hashes, codes, sessions, throttling) are :mod:`broadcast.accounts.signin`'s."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlmodel import col

from admin.console.deps import FormExpired, SignInRequired, check_form_token
from admin.console.web import (
    FORM_COOKIE,
    SESSION_COOKIE,
    form_token,
    page,
    redirect,
    request_locale,
    set_cookie,
    tokens_match,
)
from admin.deps import SettingsDep, UowDep
from broadcast.accounts.models import ConsoleSession, Operator
from broadcast.accounts.service import audit, principal_for
from broadcast.accounts.signin import (
    SignInThrottle,
    TooManyAttempts,
    accept_totp,
    close_session,
    find_session,
    new_recovery_codes,
    new_totp_secret,
    open_session,
    password_matches,
    totp_uri,
    use_recovery_code,
)
from broadcast.core.masking import mask_email
from broadcast.core.timeutil import utcnow
from broadcast.directory.models import Organisation
from broadcast.settings import Settings

router = APIRouter(prefix="/console", include_in_schema=False)
HOME = "/console/"
SIGN_IN = "/console/connexion"
SECOND_FACTOR = "/console/connexion/code"
ACTIVATE = "/console/connexion/activer"


def client_address(request: Request) -> str:
    return request.client.host if request.client is not None else "inconnue"


def safe_next(value: str | None) -> str:
    """Where to go after sign-in: a console path, never another site."""
    if value and value.startswith("/console/") and not value.startswith("//"):
        return value
    return HOME


def _sign_in_form(
    request: Request,
    settings: Settings,
    *,
    error: str | None = None,
    notice: str | None = None,
    email: str = "",
    status_code: int = 200,
) -> Response:
    token = form_token(request)
    response = page(
        request,
        "signin.html",
        csrf=token,
        error=error,
        notice=notice,
        email=email,
        next_path=safe_next(request.query_params.get("suite")),
        status_code=status_code,
    )
    set_cookie(response, settings, FORM_COOKIE, token)
    return response


@router.get("/connexion")
async def sign_in_page(request: Request, settings: SettingsDep) -> Response:
    notices = {"sortie": "Vous êtes déconnecté.", "expiree": "Votre session a expiré."}
    return _sign_in_form(request, settings, notice=notices.get(request.query_params.get("fin", "")))


@router.post("/connexion")
async def sign_in(
    request: Request,
    uow: UowDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next_path: Annotated[str, Form(alias="suite", max_length=500)] = HOME,
) -> Response:
    if not tokens_match(request.cookies.get(FORM_COOKIE, ""), (await request.form()).get("csrf")):
        raise FormExpired()
    throttle = SignInThrottle(request.app.state.redis)
    address = client_address(request)
    try:
        await throttle.check(email, address)
    except TooManyAttempts as refused:
        return _sign_in_form(
            request, settings, error=refused.message(request_locale(request)), status_code=429
        )
    operator = await uow.session.scalar(
        select(Operator).where(col(Operator.email) == email.strip().lower())
    )
    if not password_matches(operator, password):
        await throttle.failed(email, address)
        await _audit_failure(uow, operator, email, "mot de passe")
        return _sign_in_form(
            request,
            settings,
            error="Adresse ou mot de passe incorrect.",
            email=email,
            status_code=401,
        )
    assert operator is not None
    await throttle.succeeded(email, address)
    opened = await open_session(uow.session, operator)
    if opened.row.second_factor_done:
        await audit_sign_in(uow, operator, "mot de passe")
        target = safe_next(next_path)
    else:
        target = SECOND_FACTOR if operator.totp_secret else ACTIVATE
        target += "?suite=" + quote(safe_next(next_path))
    response = redirect(target)
    set_cookie(response, settings, SESSION_COOKIE, opened.token)
    response.delete_cookie(FORM_COOKIE, path="/console")
    return response


async def _audit_failure(uow: UowDep, operator: Operator | None, email: str, step: str) -> None:
    principal = None
    if operator is not None:
        organisation = await uow.session.get(Organisation, operator.organisation_id)
        assert organisation is not None
        principal = principal_for(operator, organisation)
    audit(
        uow.session,
        principal,
        "signin.failed",
        organisation_id=operator.organisation_id if operator else None,
        details={"email": mask_email(email), "step": step},
    )


async def audit_sign_in(uow: UowDep, operator: Operator, method: str) -> None:
    """Signed in (both factors given): audited, and the time kept for the operators' list."""
    operator.last_signed_in_at = utcnow()
    organisation = await uow.session.get(Organisation, operator.organisation_id)
    assert organisation is not None
    audit(
        uow.session,
        principal_for(operator, organisation),
        "signin",
        organisation_id=operator.organisation_id,
        details={"method": method},
    )


async def _half_signed_in(request: Request, uow: UowDep) -> tuple[ConsoleSession, Operator]:
    """The session between the password and the second factor."""
    found = await find_session(uow.session, request.cookies.get(SESSION_COOKIE))
    if found is None:
        raise SignInRequired(SIGN_IN)
    await check_form_token(request, found[0].csrf_token)
    return found


def _second_factor_page(
    request: Request, row: ConsoleSession, *, error: str | None = None, status_code: int = 200
) -> Response:
    return page(
        request,
        "second_factor.html",
        csrf=row.csrf_token,
        error=error,
        next_path=safe_next(request.query_params.get("suite")),
        status_code=status_code,
    )


@router.get("/connexion/code")
async def second_factor_page(request: Request, uow: UowDep) -> Response:
    row, operator = await _half_signed_in(request, uow)
    if operator.totp_secret is None:
        return redirect(ACTIVATE)
    return _second_factor_page(request, row)


@router.post("/connexion/code")
async def second_factor(
    request: Request,
    uow: UowDep,
    settings: SettingsDep,
    code: Annotated[str, Form(max_length=40)] = "",
    next_path: Annotated[str, Form(alias="suite", max_length=500)] = HOME,
) -> Response:
    row, operator = await _half_signed_in(request, uow)
    throttle = SignInThrottle(request.app.state.redis)
    address = client_address(request)
    try:
        await throttle.check(operator.email, address)
    except TooManyAttempts as refused:
        return _second_factor_page(request, row, error=refused.message("fr"), status_code=429)
    method = "code" if accept_totp(operator, code) else None
    if method is None and use_recovery_code(operator, code):
        method = "code de secours"
    if method is None:
        await throttle.failed(operator.email, address)
        await _audit_failure(uow, operator, operator.email, "second facteur")
        return _second_factor_page(
            request,
            row,
            error="Ce code n'est pas le bon, ou il a déjà servi. Saisissez le code à six chiffres "
            "que votre application affiche maintenant.",
            status_code=401,
        )
    await throttle.succeeded(operator.email, address)
    return await _complete_sign_in(uow, settings, row, operator, method, safe_next(next_path))


async def _complete_sign_in(
    uow: UowDep,
    settings: Settings,
    row: ConsoleSession,
    operator: Operator,
    method: str,
    target: str,
) -> Response:
    """Both factors given: a fresh session replaces the half one (rotated at sign-in)."""
    await uow.session.delete(row)
    opened = await open_session(uow.session, operator)
    opened.row.second_factor_done = True
    await audit_sign_in(uow, operator, method)
    response = redirect(target)
    set_cookie(response, settings, SESSION_COOKIE, opened.token)
    return response


def _activation_seal(settings: Settings, row: ConsoleSession, secret: str) -> str:
    """Binds the secret offered on the activation page to this session, so that a posted
    secret is the one the page showed."""
    key = settings.secret_key.get_secret_value().encode()
    return hmac.new(key, f"{row.token_hash}:{secret}".encode(), hashlib.sha256).hexdigest()


@router.get("/connexion/activer")
async def activation_page(request: Request, uow: UowDep, settings: SettingsDep) -> Response:
    row, operator = await _half_signed_in(request, uow)
    if operator.totp_secret is not None:
        return redirect(SECOND_FACTOR)
    return _activation_form(request, settings, row, operator, new_totp_secret())


def _activation_form(
    request: Request,
    settings: Settings,
    row: ConsoleSession,
    operator: Operator,
    secret: str,
    *,
    error: str | None = None,
) -> Response:
    return page(
        request,
        "activate.html",
        csrf=row.csrf_token,
        secret=secret,
        grouped=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        seal=_activation_seal(settings, row, secret),
        uri=totp_uri(operator, secret),
        error=error,
        next_path=safe_next(request.query_params.get("suite")),
        status_code=401 if error else 200,
    )


@router.post("/connexion/activer")
async def activate(
    request: Request,
    uow: UowDep,
    settings: SettingsDep,
    secret: Annotated[str, Form(max_length=64)] = "",
    seal: Annotated[str, Form(max_length=64)] = "",
    code: Annotated[str, Form(max_length=40)] = "",
    next_path: Annotated[str, Form(alias="suite", max_length=500)] = HOME,
) -> Response:
    row, operator = await _half_signed_in(request, uow)
    if operator.totp_secret is not None:
        return redirect(SECOND_FACTOR)
    if not tokens_match(_activation_seal(settings, row, secret), seal):
        raise FormExpired()
    operator.totp_secret = secret
    if not accept_totp(operator, code):
        operator.totp_secret = None
        return _activation_form(
            request,
            settings,
            row,
            operator,
            secret,
            error="Ce code ne correspond pas. Vérifiez que l'application a bien enregistré la "
            "clé, puis saisissez le code qu'elle affiche maintenant.",
        )
    codes = new_recovery_codes(operator)
    await uow.session.delete(row)
    opened = await open_session(uow.session, operator)
    opened.row.second_factor_done = True
    await audit_sign_in(uow, operator, "activation du second facteur")
    response = page(request, "recovery_codes.html", codes=codes, next_path=safe_next(next_path))
    set_cookie(response, settings, SESSION_COOKIE, opened.token)
    return response


@router.post("/deconnexion")
async def sign_out(request: Request, uow: UowDep) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    found = await find_session(uow.session, token)
    if found is not None:
        row, operator = found
        await check_form_token(request, row.csrf_token)
        organisation = await uow.session.get(Organisation, operator.organisation_id)
        assert organisation is not None
        audit(
            uow.session,
            principal_for(operator, organisation),
            "signout",
            organisation_id=operator.organisation_id,
        )
        await close_session(uow.session, token)
        request.app.state.console_sessions.forget(token)
    response = redirect(SIGN_IN + "?fin=sortie")
    response.delete_cookie(SESSION_COOKIE, path="/console")
    return response

"""The emailed one-time links: "Mot de passe oublié ?" (the request, answered the same whether
the address has an account or not) and the link's page, where the operator chooses his
password and is signed in (through the second factor, or its activation, when his role or his
account has one). The rules are :mod:`broadcast.accounts.links`'."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import Response

from admin.console.auth import (
    ACTIVATE,
    HOME,
    SECOND_FACTOR,
    audit_sign_in,
    client_address,
)
from admin.console.deps import FormExpired
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
from broadcast.accounts.links import (
    LINK_PATH,
    LinkGone,
    LinkPurpose,
    ResetThrottle,
    TooManyResets,
    complete_link,
    find_link,
    link_message,
    request_reset,
    send_link,
)
from broadcast.accounts.models import Operator, OperatorLink
from broadcast.accounts.signin import WeakPassword, needs_second_factor, open_session
from broadcast.settings import Settings

router = APIRouter(prefix="/console", include_in_schema=False)
FORGOT = "/console/connexion/oubli"
NO_REFERRER = {"referrer-policy": "no-referrer"}  # the link's token stays out of other sites' logs


def _with_form_cookie(
    request: Request, settings: Settings, template: str, *, status_code: int = 200, **context: Any
) -> Response:
    """A page whose form is posted before sign-in: its token is the ``bc_form`` cookie's."""
    token = form_token(request)
    response = page(request, template, csrf=token, status_code=status_code, **context)
    set_cookie(response, settings, FORM_COOKIE, token)
    response.headers.update(NO_REFERRER)
    return response


async def _check_form(request: Request) -> None:
    if not tokens_match(request.cookies.get(FORM_COOKIE, ""), (await request.form()).get("csrf")):
        raise FormExpired()


@router.get("/connexion/oubli")
async def forgot_page(request: Request, settings: SettingsDep) -> Response:
    return _with_form_cookie(request, settings, "forgot.html", email="", error=None, sent=False)


@router.post("/connexion/oubli")
async def forgot(
    request: Request,
    uow: UowDep,
    settings: SettingsDep,
    background: BackgroundTasks,
    email: Annotated[str, Form(max_length=320)] = "",
) -> Response:
    """The same page whether the address has an account or not; only an account's gets the
    email, sent once the answer has left (so that its time tells nothing either)."""
    await _check_form(request)
    try:
        await ResetThrottle(request.app.state.redis).count(email, client_address(request))
    except TooManyResets as refused:
        return _with_form_cookie(
            request,
            settings,
            "forgot.html",
            email=email,
            error=refused.message(request_locale(request)),
            sent=False,
            status_code=429,
        )
    if not email.strip():
        return _with_form_cookie(
            request,
            settings,
            "forgot.html",
            email="",
            error="Indiquez l'adresse électronique de votre compte.",
            sent=False,
            status_code=422,
        )
    issued = await request_reset(uow.session, email)
    if issued is not None:
        operator = await uow.session.get(Operator, issued.row.operator_id)  # already loaded
        assert operator is not None
        background.add_task(send_link, settings, link_message(settings, operator, issued))
    return _with_form_cookie(request, settings, "forgot.html", email="", error=None, sent=True)


def _gone(request: Request) -> Response:
    gone = LinkGone()
    response = page(
        request,
        "link_gone.html",
        message=gone.message(request_locale(request)),
        status_code=gone.status_code,
    )
    response.headers.update(NO_REFERRER)
    return response


@router.get("/lien/{token}")
async def link_page(request: Request, uow: UowDep, settings: SettingsDep, token: str) -> Response:
    try:
        link, operator = await find_link(uow.session, token)
    except LinkGone:
        return _gone(request)
    return _link_form(request, settings, token, link, operator.display_name)


def _link_form(
    request: Request,
    settings: Settings,
    token: str,
    link: OperatorLink,
    name: str,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return _with_form_cookie(
        request,
        settings,
        "link.html",
        action=LINK_PATH + token,
        invitation=link.purpose == LinkPurpose.invitation,
        person=name,
        error=error,
        status_code=status_code,
    )


@router.post("/lien/{token}")
async def use_link_page(
    request: Request,
    uow: UowDep,
    settings: SettingsDep,
    token: str,
    password: Annotated[str, Form(max_length=1000)] = "",
    again: Annotated[str, Form(alias="confirmation", max_length=1000)] = "",
) -> Response:
    """The password chosen: the link is spent, the other sessions closed, and the operator
    signed in (his second factor, or its activation, first when he needs one)."""
    await _check_form(request)
    try:
        link, operator = await find_link(uow.session, token)
    except LinkGone:
        return _gone(request)
    error = None
    if password != again:
        error = "Les deux mots de passe saisis ne sont pas identiques."
    else:
        try:
            await complete_link(uow.session, token, password)
        except WeakPassword as weak:
            error = weak.message(request_locale(request))
    if error is not None:
        return _link_form(
            request, settings, token, link, operator.display_name, error=error, status_code=422
        )
    opened = await open_session(uow.session, operator)
    if not needs_second_factor(operator):
        await audit_sign_in(uow, operator, "lien")
        target = HOME
    else:
        target = SECOND_FACTOR if operator.totp_secret else ACTIVATE
    response = redirect(target)
    set_cookie(response, settings, SESSION_COOKIE, opened.token)
    response.delete_cookie(FORM_COOKIE, path="/console")
    response.headers.update(NO_REFERRER)
    return response

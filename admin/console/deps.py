"""Who is using the console: the signed-in operator of the request's session cookie, with the
permission a page names (as :func:`admin.deps.requires` does for API keys, and read by the same
route matrix test), and the CSRF token every form of a signed-in page posts back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request

from admin.console.web import SESSION_COOKIE, tokens_match
from admin.deps import UowDep
from broadcast.accounts.models import Operator
from broadcast.accounts.permissions import Permission
from broadcast.accounts.service import Principal, principal_for
from broadcast.accounts.signin import find_session
from broadcast.core.errors import DomainError
from broadcast.directory.models import Organisation

SAFE_METHODS = frozenset({"GET", "HEAD"})


class SignInRequired(Exception):
    """No live session: the browser is sent to the sign-in page, then back to ``next_path``."""

    def __init__(self, next_path: str, *, second_factor_pending: bool = False) -> None:
        super().__init__(next_path)
        self.next_path = next_path
        self.second_factor_pending = second_factor_pending


class FormExpired(DomainError):
    status_code = 403
    code = "form_expired"
    message_fr = "Ce formulaire a expiré. Rechargez la page et recommencez."
    message_en = "This form has expired. Reload the page and try again."


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    principal: Principal
    operator: Operator
    organisation: Organisation
    csrf: str

    @property
    def locale(self) -> str:
        return self.operator.locale


async def check_form_token(request: Request, expected: str) -> None:
    """A form post must repeat the page's token (RULES A3: browser sessions carry a CSRF token)."""
    if request.method in SAFE_METHODS:
        return
    form = await request.form()  # parsed once: the route's own Form fields reuse it
    if not tokens_match(expected, form.get("csrf")):
        raise FormExpired()


def console_requires(permission: Permission) -> Any:
    """A dependency giving the signed-in :class:`ConsoleUser`, refused (403) without
    ``permission``; without a session, the browser goes to the sign-in page."""

    async def console_user(request: Request, uow: UowDep) -> ConsoleUser:
        found = await find_session(uow.session, request.cookies.get(SESSION_COOKIE))
        if found is None:
            raise SignInRequired(request.url.path)
        row, operator = found
        if not row.second_factor_done:
            raise SignInRequired(request.url.path, second_factor_pending=True)
        organisation = await uow.session.get(Organisation, operator.organisation_id)
        assert organisation is not None
        await check_form_token(request, row.csrf_token)
        principal = principal_for(operator, organisation)
        principal.require(permission)
        return ConsoleUser(principal, operator, organisation, row.csrf_token)

    console_user.permission = permission  # type: ignore[attr-defined]  # read by the matrix test
    return Depends(console_user)

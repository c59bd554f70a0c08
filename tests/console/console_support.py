"""Signing in to the console from a test: an operator of the test world with a password (and a
second factor for the roles that need one), and an httpx client that posts its forms."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
import pyotp
from sqlalchemy import select
from sqlmodel import col

from broadcast.accounts.models import Operator
from broadcast.accounts.signin import set_password
from broadcast.core.db import SessionFactory, transaction

PASSWORD = "une phrase de passe solide"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass(frozen=True)
class Credentials:
    email: str
    password: str
    totp_secret: str | None


async def give_password(
    factory: SessionFactory, email: str, *, with_totp: bool = False
) -> Credentials:
    async with transaction(factory) as session:
        operator = await session.scalar(select(Operator).where(col(Operator.email) == email))
        assert operator is not None
        set_password(operator, PASSWORD)
        operator.totp_secret = pyotp.random_base32() if with_totp else None
        return Credentials(email, PASSWORD, operator.totp_secret)


def csrf_of(page: httpx.Response) -> str:
    found = _CSRF.search(page.text)
    assert found, "no CSRF token on the page"
    return found.group(1)


async def post_form(
    client: httpx.AsyncClient, path: str, data: dict[str, str], *, from_page: str | None = None
) -> httpx.Response:
    """Post a form the way a browser does: with the token of the page that shows it."""
    page = await client.get(from_page or path)
    return await client.post(path, data={"csrf": csrf_of(page), **data})


async def sign_in(client: httpx.AsyncClient, credentials: Credentials) -> httpx.Response:
    """Password, then the current TOTP code when the account has one; the last answer."""
    answer = await post_form(
        client,
        "/console/connexion",
        {"email": credentials.email, "password": credentials.password},
    )
    if credentials.totp_secret and answer.status_code == 303:
        code = pyotp.TOTP(credentials.totp_secret).now()
        answer = await post_form(client, "/console/connexion/code", {"code": code})
    return answer

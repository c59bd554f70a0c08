"""The demo académie: Strasbourg (Bas-Rhin 67, Haut-Rhin 68), ten schools, 5,000 contacts, and
four console accounts: two communication officers (one approves what the other sends), the
Collège Pasteur's head teacher and the platform admin, each with a printed password and, for the
roles that need a second factor, a TOTP secret kept from one run to the next. The passwords are
new on every run (printed by ``broadcast demo``): a demo database never keeps a known one."""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.accounts.models import Operator, Role
from broadcast.accounts.service import create_api_key, create_operator
from broadcast.accounts.signin import new_totp_secret, set_password
from broadcast.directory.models import (
    Contact,
    ContactRole,
    Organisation,
    OrganisationKind,
    PushSubscription,
)
from broadcast.directory.push import attach_subscription, delete_subscriptions, follow
from broadcast.directory.schemas import ContactIn, FollowIn, SubscriptionIn
from broadcast.directory.service import create_organisation, insert_contacts
from broadcast.directory.uai import make_uai
from broadcast.settings import Settings

SCHOOLS = [
    ("67", "0670001", "Lycée Fustel de Coulanges", "lycee", "Strasbourg"),
    ("67", "0670002", "Collège Pasteur", "college", "Strasbourg"),
    ("67", "0670003", "Collège Lezay-Marnésia", "college", "Strasbourg"),
    ("67", "0670004", "École élémentaire du Neuhof", "ecole", "Strasbourg"),
    ("67", "0670005", "Lycée professionnel Jean Rostand", "lp", "Haguenau"),
    ("68", "0680001", "Lycée Bartholdi", "lycee", "Colmar"),
    ("68", "0680002", "Collège Victor Hugo", "college", "Colmar"),
    ("68", "0680003", "Collège Jean Macé", "college", "Mulhouse"),
    ("68", "0680004", "École primaire Drouot", "ecole", "Mulhouse"),
    ("68", "0680005", "Lycée Montaigne", "lycee", "Mulhouse"),
]
LEVELS = {
    "ecole": ["CP", "CE1", "CE2", "CM1", "CM2"],
    "college": ["6e", "5e", "4e", "3e"],
    "lycee": ["2nde", "1re", "Tle"],
    "lp": ["2nde pro", "1re pro", "Tle pro"],
}
FIRST_NAMES = ["Camille", "Léa", "Louis", "Emma", "Jules", "Chloé", "Hugo", "Inès", "Lucas", "Zoé"]
LAST_NAMES = [
    "Muller",
    "Schmitt",
    "Meyer",
    "Weber",
    "Klein",
    "Martin",
    "Bernard",
    "Roth",
    "Fischer",
]
DEMO_OFFICER = "officier@ac-strasbourg.demo"
DEMO_SECOND_OFFICER = "officiere2@ac-strasbourg.demo"
DEMO_HEAD = "principal@college-pasteur.demo"
DEMO_ADMIN = "dsi@ac-strasbourg.demo"
PUSH_SCHOOL = make_uai("0670002")
"""The Collège Pasteur, whose head teacher is the demo's: its families follow it by push."""


@dataclass(frozen=True)
class DemoAccount:
    title: str
    email: str
    password: str
    totp_secret: str | None


@dataclass(frozen=True)
class DemoCredentials:
    officer_email: str
    officer_key: str
    head_email: str
    head_key: str
    accounts: tuple[DemoAccount, ...] = ()
    """The console's accounts, in the order the banner lists them."""


@dataclass(frozen=True)
class _Seat:
    email: str
    title: str
    role: Role
    at: str
    """The code of the organisation the account belongs to."""


SEATS = (
    _Seat(DEMO_OFFICER, "Officier de communication", Role.academie_officer, "STRASBOURG"),
    _Seat(
        DEMO_SECOND_OFFICER,
        "Seconde officière de communication (approuve les envois)",
        Role.academie_officer,
        "STRASBOURG",
    ),
    _Seat(DEMO_HEAD, "Principal du collège Pasteur", Role.head_teacher, PUSH_SCHOOL),
    _Seat(DEMO_ADMIN, "Administratrice de la plateforme (DSI)", Role.platform_admin, "GRAND-EST"),
)


async def seed_organisations(session: AsyncSession) -> list[Organisation]:
    region = await create_organisation(
        session,
        kind=OrganisationKind.region_academique,
        code="GRAND-EST",
        name="Région académique Grand Est",
    )
    academie = await create_organisation(
        session,
        kind=OrganisationKind.academie,
        code="STRASBOURG",
        name="Académie de Strasbourg",
        parent=region,
    )
    departements = {
        code: await create_organisation(
            session, kind=OrganisationKind.departement, code=code, name=name, parent=academie
        )
        for code, name in (("67", "Bas-Rhin"), ("68", "Haut-Rhin"))
    }
    return [
        await create_organisation(
            session,
            kind=OrganisationKind.etablissement,
            code=make_uai(digits),
            name=f"{name} ({town})",
            parent=departements[dep],
            school_type=school_type,
        )
        for dep, digits, name, school_type, town in SCHOOLS
    ]


def demo_contacts(schools: list[Organisation], total: int, seed: int = 6) -> list[ContactIn]:
    """Guardians (a few with two children in one school), pupils and staff of each school."""
    rng = random.Random(seed)
    rows: list[ContactIn] = []
    for n in range(total):
        school = schools[n % len(schools)]
        levels = LEVELS[school.school_type or "college"]
        level = rng.choice(levels)
        role = rng.choices(
            [ContactRole.guardian, ContactRole.pupil, ContactRole.teacher, ContactRole.staff],
            weights=[70, 20, 8, 2],
        )[0]
        family = n // 2 if n % 10 == 0 else n  # some families share one email
        rows.append(
            ContactIn(
                organisation_id=school.id or 0,
                first_name=rng.choice(FIRST_NAMES),
                last_name=rng.choice(LAST_NAMES),
                role=role,
                level=level if role in (ContactRole.guardian, ContactRole.pupil) else None,
                division=f"{level} {rng.choice('ABC')}" if role != ContactRole.staff else None,
                locale="en" if n % 25 == 0 else "fr",
                email=f"famille{family}@demo.ac-strasbourg.fr",
                mobile=f"+3361{n:07d}",
            )
        )
    return rows


async def seed_demo(session: AsyncSession, contacts: int = 5000) -> DemoCredentials:
    """Seed once (organisations, contacts, operators); on every call new API keys and new
    passwords, returned to be printed."""
    existing = await session.scalar(
        select(Organisation).where(col(Organisation.code) == "STRASBOURG")
    )
    if existing is None:
        schools = await seed_organisations(session)
        await insert_contacts(session, demo_contacts(schools, contacts))
    passwords = [secrets.token_urlsafe(12) for _ in SEATS]
    accounts = [
        await _console_account(session, seat, password)
        for seat, password in zip(SEATS, passwords, strict=True)
    ]
    officer, head = accounts[0], accounts[2]
    _, officer_key = await create_api_key(session, officer, "démo")
    _, head_key = await create_api_key(session, head, "démo")
    return DemoCredentials(
        DEMO_OFFICER,
        officer_key,
        DEMO_HEAD,
        head_key,
        tuple(
            DemoAccount(seat.title, seat.email, password, operator.totp_secret)
            for seat, operator, password in zip(SEATS, accounts, passwords, strict=True)
        ),
    )


async def _console_account(session: AsyncSession, seat: _Seat, password: str) -> Operator:
    """The seat's operator, made on the first run, with its password of this run; a TOTP
    secret, kept once made, for the roles that need one (head teachers are only offered one)."""
    operator = await session.scalar(select(Operator).where(col(Operator.email) == seat.email))
    if operator is None:
        organisation = await session.scalar(
            select(Organisation).where(col(Organisation.code) == seat.at)
        )
        assert organisation is not None
        operator = await create_operator(
            session,
            email=seat.email,
            display_name=seat.title.split(" (")[0],
            role=seat.role,
            organisation=organisation,
        )
    if seat.role != Role.head_teacher and operator.totp_secret is None:  # required of these
        operator.totp_secret = new_totp_secret()
    set_password(operator, password)
    return operator


async def seed_push_subscriptions(
    session: AsyncSession,
    settings: Settings,
    new_browser: Callable[[], dict[str, Any]],
    *,
    guardians: int = 20,
    followers: int = 5,
) -> int:
    """Browser subscriptions made by ``new_browser`` (the push sandbox, which keeps their keys to
    decrypt what it receives): for some guardians of the Collège Pasteur, and anonymous followers
    of it. An earlier run's subscriptions are forgotten: the sandbox that held their keys is gone.
    """
    earlier = (await session.execute(select(col(PushSubscription.id)))).scalars().all()
    await delete_subscriptions(session, [int(i) for i in earlier if i is not None])
    school = await session.scalar(select(Organisation).where(col(Organisation.code) == PUSH_SCHOOL))
    assert school is not None and school.id is not None
    contacts = (
        await session.execute(
            select(Contact)
            .where(
                col(Contact.organisation_id) == school.id,
                col(Contact.role) == ContactRole.guardian,
            )
            .order_by(col(Contact.id))
            .limit(guardians)
        )
    ).scalars()
    seeded = 0
    for contact in contacts:
        await attach_subscription(session, contact, SubscriptionIn.model_validate(new_browser()))
        seeded += 1
    for _ in range(followers):
        data = FollowIn.model_validate({**new_browser(), "organisation_id": school.id})
        await follow(session, settings, data)
    return seeded + followers

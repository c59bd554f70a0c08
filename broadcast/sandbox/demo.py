"""The demo académie: Strasbourg (Bas-Rhin 67, Haut-Rhin 68), ten schools, 5,000 contacts."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.accounts.models import Operator, Role
from broadcast.accounts.service import create_api_key, create_operator
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
DEMO_HEAD = "principal@college-pasteur.demo"
PUSH_SCHOOL = make_uai("0670002")
"""The Collège Pasteur, whose head teacher is the demo's: its families follow it by push."""


@dataclass(frozen=True)
class DemoCredentials:
    officer_email: str
    officer_key: str
    head_email: str
    head_key: str


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
    """Seed once (organisations, contacts, two operators); new API keys on every call."""
    existing = await session.scalar(
        select(Organisation).where(col(Organisation.code) == "STRASBOURG")
    )
    if existing is None:
        schools = await seed_organisations(session)
        await insert_contacts(session, demo_contacts(schools, contacts))
        academie = await session.scalar(
            select(Organisation).where(col(Organisation.code) == "STRASBOURG")
        )
        assert academie is not None
        await create_operator(
            session,
            email=DEMO_OFFICER,
            display_name="Officier de communication",
            role=Role.academie_officer,
            organisation=academie,
        )
        await create_operator(
            session,
            email=DEMO_HEAD,
            display_name="Principal du collège Pasteur",
            role=Role.head_teacher,
            organisation=schools[1],
        )
    officer = await session.scalar(select(Operator).where(col(Operator.email) == DEMO_OFFICER))
    head = await session.scalar(select(Operator).where(col(Operator.email) == DEMO_HEAD))
    assert officer is not None and head is not None
    _, officer_key = await create_api_key(session, officer, "démo")
    _, head_key = await create_api_key(session, head, "démo")
    return DemoCredentials(DEMO_OFFICER, officer_key, DEMO_HEAD, head_key)


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

"""A small seeded directory for the audience tests, on top of :func:`tests.support.build_world`.

Département 68 holds collège Z (from the world), lycée W and école E; département 67 holds
collège X and lycée Y. The guardians of 3e in the collèges of 68 are exactly those of
:data:`EXPECTED_3E_68`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlmodel import col

from broadcast.core.db import SessionFactory, transaction
from broadcast.core.timeutil import utcnow
from broadcast.directory.models import Contact, ContactRole, Organisation, OrganisationKind
from broadcast.directory.schemas import ContactIn
from broadcast.directory.service import create_organisation, insert_contacts
from broadcast.directory.uai import make_uai
from tests.support import World, build_world

EXPECTED_3E_68 = {
    ("email", "anne.3e@familles.fr"),
    ("sms", "+33611000001"),
    ("email", "bruno.3e@familles.fr"),
    ("email", "carla.3e@familles.fr"),
}


@dataclass
class Directory:
    world: World
    lycee_w: int
    ecole_e: int
    contacts: dict[str, int] = field(default_factory=dict)


def _contact(
    name: str,
    school: int,
    *,
    role: ContactRole = ContactRole.guardian,
    level: str | None = "3e",
    email: str | None = None,
    mobile: str | None = None,
    locale: str = "fr",
) -> ContactIn:
    return ContactIn.model_validate(
        {
            "organisation_id": school,
            "first_name": name.capitalize(),
            "last_name": "Test",
            "role": role,
            "level": level,
            "division": f"{level} A" if level else None,
            "email": email if email is not None else f"{name}@familles.fr",
            "mobile": mobile,
            "locale": locale,
        }
    )


async def seed_directory(factory: SessionFactory) -> Directory:
    world = await build_world(factory)
    async with transaction(factory) as session:
        dep68 = await session.get(Organisation, world.dep68)
        lycee = await create_organisation(
            session,
            kind=OrganisationKind.etablissement,
            code=make_uai("0680400"),
            name="Lycée W",
            parent=dep68,
            school_type="lycee",
        )
        ecole = await create_organisation(
            session,
            kind=OrganisationKind.etablissement,
            code=make_uai("0680500"),
            name="École E",
            parent=dep68,
            school_type="ecole",
        )
        seeded = Directory(world, lycee.id or 0, ecole.id or 0)
        z, x = world.school_z, world.school_x
        rows = {
            "anne.3e": _contact("anne.3e", z, mobile="06 11 00 00 01"),
            "bruno.3e": _contact("bruno.3e", z),
            "carla.3e": _contact("carla.3e", z, locale="en"),
            "sibling.3e": _contact("sibling.3e", z, email="bruno.3e@familles.fr"),
            "dora.4e": _contact("dora.4e", z, level="4e"),
            "prof.3e": _contact("prof.3e", z, role=ContactRole.teacher),
            "gone.3e": _contact("gone.3e", z, mobile="06 11 00 00 06"),
            "nomail.3e": _contact("nomail.3e", z, email="", mobile=None),
            "lycee.3e": _contact("lycee.3e", lycee.id or 0),
            "ecole.cm2": _contact("ecole.cm2", ecole.id or 0, level="CM2"),
            "x.3e": _contact("x.3e", x),
        }
        ids = await insert_contacts(session, list(rows.values()))
        seeded.contacts = dict(zip(rows, ids, strict=True))
        await session.execute(
            update(Contact)
            .where(col(Contact.id) == seeded.contacts["gone.3e"])
            .values(left_at=utcnow())
        )
    return seeded


async def paths_of(factory: SessionFactory, organisation_ids: list[int]) -> list[str]:
    async with transaction(factory) as session:
        rows = await session.execute(
            select(col(Organisation.path)).where(col(Organisation.id).in_(organisation_ids))
        )
        return sorted(rows.scalars())

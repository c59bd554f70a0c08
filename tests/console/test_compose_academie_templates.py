"""Rédiger offers the académie's own notice templates beside the national ones (issue 11, item
4): a head teacher of the académie sees, fills and uses them; the head teacher of a school of
another académie does not see them and gets 404 on their form."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlmodel import col

from broadcast.accounts.models import Role
from broadcast.accounts.service import create_operator
from broadcast.core.db import SessionFactory, transaction
from broadcast.directory.models import Organisation, OrganisationKind
from broadcast.directory.service import create_organisation
from broadcast.directory.uai import make_uai
from broadcast.notices.models import Notice
from broadcast.notices.schemas import AcademieTemplateIn
from broadcast.notices.templates import save_academie_template
from broadcast.settings import Settings
from tests.console.console_support import csrf_of, give_password, sign_in
from tests.support import api, build_world, operator_principal

NEIGE = {
    "key": "transports-neige",
    "status": "identified",
    "title": {"fr": "{{ etablissement }} : transports scolaires suspendus"},
    "message": {
        "fr": "Les transports scolaires vers {{ etablissement }} sont suspendus le "
        "{{ date }} en raison de la neige."
    },
    "placeholders": [
        {"name": "etablissement", "label_fr": "Établissement", "example": "Collège Pasteur"},
        {"name": "date", "label_fr": "Date du jour", "example": "lundi 7 décembre"},
    ],
}
FORM = "/console/rediger/modele/transports-neige"
LABEL = "transports scolaires suspendus"


async def _world_with_snow_template(factory: SessionFactory) -> None:
    """The world with the Strasbourg académie's snow template, and a head teacher of a school
    of another académie (Nancy-Metz) in the same région."""
    world = await build_world(factory)
    officer = await operator_principal(factory, "officer")
    async with transaction(factory) as session:
        data = AcademieTemplateIn.model_validate({**NEIGE, "organisation_id": world.academie})
        await save_academie_template(session, officer, data)
        region = await session.get(Organisation, world.region)
        nancy = await create_organisation(
            session, kind=OrganisationKind.academie, code="NANCY", name="Nancy-Metz", parent=region
        )
        school = await create_organisation(
            session,
            kind=OrganisationKind.etablissement,
            code=make_uai("0540100"),
            name="Collège de Nancy",
            parent=nancy,
            school_type="college",
        )
        await create_operator(
            session,
            email="head_nancy@test.fr",
            display_name="head_nancy",
            role=Role.head_teacher,
            organisation=school,
        )


async def _signed_in(client: httpx.AsyncClient, factory: SessionFactory, email: str) -> None:
    credentials = await give_password(factory, email)
    assert (await sign_in(client, credentials)).status_code == 303


async def test_a_head_teacher_of_the_academie_chooses_and_uses_its_template(
    settings: Settings, factory: SessionFactory
) -> None:
    await _world_with_snow_template(factory)
    async with api(settings) as client:
        await _signed_in(client, factory, "head_x@test.fr")
        start = await client.get("/console/rediger")
        families = await client.get("/console/rediger/familles")
        form = await client.get(FORM)
        values = {"v_etablissement": "Collège Jean Moulin", "v_date": "lundi 7 décembre"}
        posted = await client.post(FORM, data={"csrf": csrf_of(form), **values})
    for listing in (start, families):
        assert listing.status_code == 200
        assert f'href="{FORM}' in listing.text and LABEL in listing.text
        assert "ENT indisponible" in listing.text  # the national ones are still there
    assert form.status_code == 200
    assert "Date du jour" in form.text
    assert posted.status_code == 303, posted.text
    assert posted.headers["location"].endswith("/audience")
    async with factory() as session:
        titles = list(await session.scalars(select(col(Notice.title))))
    assert titles == ["Collège Jean Moulin : transports scolaires suspendus"]


async def test_a_school_of_another_academie_never_sees_it(
    settings: Settings, factory: SessionFactory
) -> None:
    await _world_with_snow_template(factory)
    async with api(settings) as client:
        await _signed_in(client, factory, "head_nancy@test.fr")
        start = await client.get("/console/rediger")
        families = await client.get("/console/rediger/familles")
        form = await client.get(FORM)
    assert start.status_code == families.status_code == 200
    assert LABEL not in start.text and LABEL not in families.text
    assert "ENT indisponible" in start.text
    assert form.status_code == 404
    assert "Modèle d&#39;avis inconnu" in form.text

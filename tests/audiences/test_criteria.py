"""Audience criteria resolved in SQL: organisations (subtrees), school types, roles, levels,
locales, channels available, and what ``exclude`` subtracts."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from broadcast.audiences.criteria import AudienceCriteria, SchoolType, matching_points
from broadcast.core.db import SessionFactory, transaction
from broadcast.directory.service import suppress
from broadcast.sandbox.smtp import SmtpSink
from broadcast.settings import Settings
from tests.audiences.seeded_directory import EXPECTED_3E_68, paths_of, seed_directory
from tests.support import api, auth, run_burst_workers, send_broadcast

CHANNELS = ["email", "sms"]


async def resolve(factory: SessionFactory, criteria: dict[str, Any]) -> set[tuple[str, str]]:
    """The (channel, address) pairs the planner would walk for ``criteria``."""
    parsed = AudienceCriteria.model_validate(criteria)
    paths = await paths_of(factory, parsed.organisation_ids)
    async with transaction(factory) as session:
        rows = await session.execute(matching_points(parsed, paths, CHANNELS, unsuppressed=True))
        return {(row.channel, row.address) for row in rows}


def guardians_3e_of_colleges_68(dep68: int, **more: Any) -> dict[str, Any]:
    return {
        "organisation_ids": [dep68],
        "roles": ["guardian"],
        "levels": ["3e"],
        "school_types": ["collège"],
        **more,
    }


async def test_guardians_of_3e_in_the_colleges_of_68_resolve_to_exactly_their_addresses(
    factory: SessionFactory,
) -> None:
    directory = await seed_directory(factory)
    criteria = guardians_3e_of_colleges_68(directory.world.dep68)
    assert await resolve(factory, criteria) == EXPECTED_3E_68


async def test_the_broadcast_to_that_audience_reaches_exactly_those_addresses(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    directory = await seed_directory(factory)
    world = directory.world
    async with api(settings) as client:
        draft = await send_broadcast(
            client, world.keys["officer"], world.academie, guardians_3e_of_colleges_68(world.dep68)
        )
        # A send above a school waits for a second operator's approval (RULES A6).
        await client.post(
            f"/api/v1/broadcasts/{draft['id']}/approve", headers=auth(world.keys["admin"])
        )
        await run_burst_workers(settings)
    assert draft["audience"]["school_types"] == ["college"]
    families = (a for m in sink.messages for a in m.rcpt_tos if not a.endswith("@test.fr"))
    received = sorted(families)  # operators (@test.fr) may get the approval request
    assert received == sorted(a for c, a in EXPECTED_3E_68 if c == "email")


@pytest.mark.parametrize(
    ("label", "code"),
    [
        ("école", SchoolType.ecole),
        ("Collège", SchoolType.college),
        ("college", SchoolType.college),
        ("Lycée", SchoolType.lycee),
        ("LP", SchoolType.lp),
        ("lycée professionnel", SchoolType.lp),
    ],
)
def test_school_types_accept_french_labels_and_store_codes(label: str, code: SchoolType) -> None:
    parsed = AudienceCriteria.model_validate({"organisation_ids": [1], "school_types": [label]})
    assert parsed.school_types == [code]
    assert parsed.model_dump(mode="json")["school_types"] == [code.value]


def test_an_unknown_school_type_or_an_empty_exclusion_is_refused() -> None:
    with pytest.raises(ValidationError):
        AudienceCriteria.model_validate({"organisation_ids": [1], "school_types": ["fac"]})
    with pytest.raises(ValidationError, match="au moins un critère"):
        AudienceCriteria.model_validate({"organisation_ids": [1], "exclude": {}})


async def test_school_types_select_schools_across_the_subtree(factory: SessionFactory) -> None:
    directory = await seed_directory(factory)
    dep68 = directory.world.dep68
    lycees = await resolve(factory, {"organisation_ids": [dep68], "school_types": ["lycée"]})
    assert lycees == {("email", "lycee.3e@familles.fr")}
    ecoles = await resolve(factory, {"organisation_ids": [dep68], "school_types": ["école"]})
    assert ecoles == {("email", "ecole.cm2@familles.fr")}


async def test_locale_selects_the_contacts_of_that_language(factory: SessionFactory) -> None:
    directory = await seed_directory(factory)
    criteria = guardians_3e_of_colleges_68(directory.world.dep68, locales=["en"])
    assert await resolve(factory, criteria) == {("email", "carla.3e@familles.fr")}


async def test_channels_available_keeps_contacts_usable_on_every_channel_named(
    factory: SessionFactory,
) -> None:
    directory = await seed_directory(factory)
    dep68 = directory.world.dep68
    both = guardians_3e_of_colleges_68(dep68, channels_available=["email", "sms"])
    assert await resolve(factory, both) == {
        ("email", "anne.3e@familles.fr"),
        ("sms", "+33611000001"),
    }
    async with transaction(factory) as session:
        await suppress(session, "sms", "+33611000001", "stop")
    assert await resolve(factory, both) == set()
    email_only = guardians_3e_of_colleges_68(dep68, channels_available=["email"])
    assert await resolve(factory, email_only) == {
        pair for pair in EXPECTED_3E_68 if pair[0] == "email"
    }


async def test_exclude_subtracts_contacts_matching_all_of_its_criteria(
    factory: SessionFactory,
) -> None:
    directory = await seed_directory(factory)
    world = directory.world
    everyone_in_68 = {"organisation_ids": [world.dep68]}
    without_lycee_and_english = {
        **everyone_in_68,
        "exclude": {"organisation_ids": [directory.lycee_w], "locales": ["fr"]},
    }
    resolved = await resolve(factory, without_lycee_and_english)
    assert ("email", "lycee.3e@familles.fr") not in resolved
    assert ("email", "ecole.cm2@familles.fr") in resolved
    not_3e = {**everyone_in_68, "exclude": {"levels": ["3e"]}}
    assert await resolve(factory, not_3e) == {
        ("email", "dora.4e@familles.fr"),
        ("email", "ecole.cm2@familles.fr"),
    }
    not_teachers = guardians_3e_of_colleges_68(
        world.dep68, roles=[], exclude={"roles": ["teacher"]}
    )
    assert ("email", "prof.3e@familles.fr") not in await resolve(factory, not_teachers)
    assert await resolve(factory, not_teachers) == EXPECTED_3E_68


async def test_exclusion_of_an_organisation_outside_scope_is_404(
    settings: Settings, factory: SessionFactory
) -> None:
    directory = await seed_directory(factory)
    world = directory.world
    async with api(settings) as client:
        notice = await client.post(
            "/api/v1/notices",
            headers={"Authorization": f"Bearer {world.keys['head_x']}"},
            json={"organisation_id": world.school_x, "title": "Panne", "message": "Panne"},
        )
        draft = await client.post(
            "/api/v1/broadcasts",
            headers={"Authorization": f"Bearer {world.keys['head_x']}"},
            json={
                "notice_id": notice.json()["id"],
                "audience": {
                    "organisation_ids": [world.school_x],
                    "exclude": {"organisation_ids": [world.school_z]},
                },
                "channels": ["email"],
            },
        )
    assert draft.status_code == 404
    assert draft.json()["error"]["message"] == "Organisation introuvable dans votre périmètre."

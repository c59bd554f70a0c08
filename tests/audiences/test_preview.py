"""The audience preview: per channel, who is sent to and who is left out and why; the counts add
up; a few recipients shown masked."""

from __future__ import annotations

from typing import Any

from broadcast.audiences.criteria import AudienceCriteria
from broadcast.audiences.preview import AudiencePreview, ChannelPreview, preview_audience
from broadcast.core.db import SessionFactory, transaction
from broadcast.directory.service import suppress
from tests.audiences.seeded_directory import paths_of, seed_directory


def adds_up(channel: ChannelPreview) -> bool:
    """matched = sendable + excluded by every reason."""
    excluded = channel.excluded
    return channel.matched == (
        channel.recipients
        + excluded.suppressed
        + excluded.duplicate
        + excluded.no_address
        + excluded.left
    )


async def preview(factory: SessionFactory, criteria: dict[str, Any]) -> AudiencePreview:
    parsed = AudienceCriteria.model_validate(criteria)
    paths = await paths_of(factory, parsed.organisation_ids)
    async with transaction(factory) as session:
        return await preview_audience(session, parsed, paths, ["email", "sms"])


async def test_each_exclusion_reason_is_counted_and_the_counts_add_up(
    factory: SessionFactory,
) -> None:
    directory = await seed_directory(factory)
    async with transaction(factory) as session:
        await suppress(session, "email", "carla.3e@familles.fr", "unsubscribe")
    result = await preview(
        factory,
        {
            "organisation_ids": [directory.world.dep68],
            "roles": ["guardian"],
            "levels": ["3e"],
            "school_types": ["collège"],
        },
    )
    assert (result.contacts, result.left_contacts) == (5, 1)
    email, sms = result.channels
    # anne, bruno: sent; carla: suppressed; sibling: bruno's address again; nomail: no address;
    # gone: left the school.
    assert (email.recipients, email.matched) == (2, 6)
    assert email.excluded.model_dump() == {
        "suppressed": 1,
        "duplicate": 1,
        "no_address": 1,
        "left": 1,
    }
    assert (sms.recipients, sms.matched) == (1, 6)
    assert sms.excluded.model_dump() == {
        "suppressed": 0,
        "duplicate": 0,
        "no_address": 4,
        "left": 1,
    }
    assert adds_up(email) and adds_up(sms)
    assert email.recipients_by_locale == {"fr": 2}


async def test_counts_add_up_on_a_whole_departement(factory: SessionFactory) -> None:
    directory = await seed_directory(factory)
    async with transaction(factory) as session:
        await suppress(session, "sms", "+33611000001", "stop")
    result = await preview(factory, {"organisation_ids": [directory.world.dep68]})
    assert all(adds_up(channel) for channel in result.channels)
    assert all(channel.matched == result.channels[0].matched for channel in result.channels)


async def test_samples_show_a_few_recipients_masked(factory: SessionFactory) -> None:
    directory = await seed_directory(factory)
    result = await preview(
        factory, {"organisation_ids": [directory.world.dep68], "levels": ["3e"], "roles": []}
    )
    email, sms = result.channels
    samples = [s.address for s in email.samples]
    assert samples[:2] == ["a***e@f***.fr", "b***e@f***.fr"]
    assert 0 < len(samples) <= 5
    assert all("familles.fr" not in address for address in samples)
    assert [(s.address, s.role, s.level) for s in sms.samples] == [
        ("+336******01", "guardian", "3e")
    ]

"""One browser follows several status pages by web push: a follower per page, one subscription;
a followers' broadcast of an académie update reaches it once; unsubscribing forgets every page."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from broadcast.core.db import SessionFactory
from broadcast.sandbox.push import PushSandbox
from broadcast.settings import Settings
from tests.push_support import browser_subscription, follow, push_rows, running_push, with_push
from tests.status.status_support import post_notice
from tests.support import api, auth, build_world, run_burst_workers


@pytest.fixture
async def push() -> AsyncIterator[PushSandbox]:
    async with running_push() as sandbox:
        yield sandbox


async def test_one_browser_follows_three_pages_and_gets_an_academie_update_once(
    settings: Settings, factory: SessionFactory, push: PushSandbox
) -> None:
    settings = with_push(settings)
    world = await build_world(factory)
    officer = world.keys["officer"]
    browser = browser_subscription(push)
    async with api(settings) as client:
        answers = [
            await follow(client, browser, organisation_id=org)
            for org in (world.academie, world.school_x, world.school_y, world.school_x)
        ]
        subscriptions, points, followers = await push_rows(factory)
        counts = await client.get(
            f"/api/v1/organisations/{world.school_y}/followers", headers=auth(officer)
        )
        notice = await post_notice(client, officer, world.academie, "ENT indisponible")
        draft = await client.post(
            f"/api/v1/notices/{notice['id']}/notify-followers", headers=auth(officer), json={}
        )
        await client.post(f"/api/v1/broadcasts/{draft.json()['id']}/confirm", headers=auth(officer))
        await client.post(
            f"/api/v1/broadcasts/{draft.json()['id']}/approve", headers=auth(world.keys["admin"])
        )
        await run_burst_workers(settings)
        gone = await client.request(
            "DELETE", "/api/v1/push/subscriptions", json={"endpoint": browser["endpoint"]}
        )

    assert [a.status_code for a in answers] == [201] * 4
    assert [a.json()["organisation_id"] for a in answers] == [
        world.academie,
        world.school_x,
        world.school_y,
        world.school_x,
    ]
    [subscription] = subscriptions
    assert sorted(f.organisation_id for f in followers) == sorted(
        [world.academie, world.school_x, world.school_y]
    )
    assert {p.address for p in points} == {str(subscription.id)} and len(points) == 3
    assert counts.json()["push"] == 1 and counts.json()["email"] == 0
    assert draft.json()["channels"] == ["email", "push"]
    assert [(c["channel"], c["recipients"]) for c in draft.json()["preview"]["channels"]] == [
        ("email", 0),
        ("push", 1),
    ]
    [message] = push.messages_for(browser)
    assert message.data["title"].startswith("ENT indisponible")
    assert gone.status_code == 204
    assert await push_rows(factory) == ([], [], [])

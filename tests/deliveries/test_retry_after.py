"""A provider's ``Retry-After`` is honoured: Twilio answers 429 with ``Retry-After: 3`` and no
SMS request reaches it for those three seconds, from any group, before every SMS goes out once.
Real burst workers, Redis, the database and the Twilio sandbox reached by twilio's own client."""

from __future__ import annotations

from collections import Counter

from broadcast.channels.base import Outcome, SendResult
from broadcast.core.db import SessionFactory
from broadcast.deliveries.dispatch import MAX_RETRY_AFTER_S, provider_pause
from broadcast.ratelimit import RateLimit
from broadcast.settings import Settings
from tests.sms_support import families, mobile, running_sandbox, with_sms
from tests.support import add_contacts, api, build_world, run_burst_workers, send_broadcast

FAMILIES = 20
RETRY_AFTER_S = 3


async def test_a_429_with_retry_after_holds_every_sms_that_long(
    settings: Settings, factory: SessionFactory
) -> None:
    async with running_sandbox() as sandbox:
        sandbox.hold_callbacks = True
        settings = with_sms(settings, sandbox).model_copy(
            update={"channel_rates": {"sms": RateLimit(rate=200, burst=5)}}  # groups of five
        )
        world = await build_world(factory)
        await add_contacts(factory, families(world.school_x, FAMILIES))
        sandbox.fail_next(429, 20429, retry_after=str(RETRY_AFTER_S))
        async with api(settings) as client:
            key = world.keys["head_x"]
            await send_broadcast(
                client, key, world.school_x, {"organisation_ids": [world.school_x]}, ["sms"]
            )
            await run_burst_workers(settings)
        refused_at = sandbox.create_times[0]
        after = [t - refused_at for t in sandbox.create_times[1:]]
        received = Counter(message.to for message in sandbox.messages)
    # the rest of the refused group was in flight with it; nothing else came in the 3 s
    in_flight = [t for t in after if t < 0.3]
    assert len(in_flight) <= 4
    later = [t for t in after if t >= 0.3]
    assert later and min(later) >= RETRY_AFTER_S - 0.1, sorted(after)
    assert received == Counter({mobile(n): 1 for n in range(FAMILIES)})


def test_the_pause_is_the_longest_retry_after_and_bounded() -> None:
    def results(*retry_after: float | None) -> list[SendResult]:
        return [
            SendResult(n, Outcome.transient, retry_after_s=s) for n, s in enumerate(retry_after)
        ]

    sent = SendResult(9, Outcome.sent)
    assert provider_pause([*results(3, 7, None), sent], Counter({Outcome.transient: 3})) == 7
    assert provider_pause(results(86400), Counter({Outcome.transient: 1})) == MAX_RETRY_AFTER_S
    assert provider_pause(results(None), Counter({Outcome.transient: 1})) == 1.0
    assert provider_pause([sent], Counter({Outcome.sent: 1})) == 0.0

"""Half-open accounts are probed by one message: once the pause of an account whose token
Twilio refuses has expired, one send of one of two workers (two SMS channels sharing Redis)
tries it while every other send keeps waiting; a refusing Twilio sees one request per probe
period. Once the token works again, the probe closes the account and every send resumes."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter

import redis.asyncio as aioredis

from broadcast.channels.base import MessageContent, Outcome, Recipient, SendResult
from broadcast.channels.health import CREDENTIALS_REFUSED, AccountHealth
from broadcast.channels.sms.sender import SmsChannel
from broadcast.sandbox.twilio import TwilioSandbox
from broadcast.settings import Settings
from tests.sms_support import AUTH_TOKEN, account, running_sandbox

PROBE_AFTER_S = 0.5
CONTENT = MessageContent(
    notice_id=1,
    notice_title="ENT indisponible",
    notice_status="open",
    update_message="Les cours ont lieu normalement.",
    organisation_name="Collège Pasteur",
    urgent=True,
)


def worker_channel(sandbox: TwilioSandbox, redis: aioredis.Redis) -> SmsChannel:
    settings = Settings(
        env="dev",
        public_base_url="https://broadcast.test",
        twilio_accounts=[account(sandbox)],
        provider_probe_after_s=PROBE_AFTER_S,
        _env_file=None,  # type: ignore[call-arg]
    )
    return SmsChannel(settings, health=AccountHealth(redis, "sms", PROBE_AFTER_S))


async def send_many(channel: SmsChannel, first_id: int, count: int) -> list[SendResult]:
    prepared = channel.prepare(CONTENT, "fr")
    recipients = [Recipient(first_id + n, f"+336{first_id + n:08d}", "fr") for n in range(count)]
    return list(await asyncio.gather(*(channel.send(prepared, r) for r in recipients)))


async def keep_sending(channels: list[SmsChannel], seconds: float) -> Counter[Outcome]:
    """Ten sends at a time from each worker, every 50 ms, for ``seconds``."""
    outcomes: Counter[Outcome] = Counter()
    stop_at = time.monotonic() + seconds
    next_id = 1000
    while time.monotonic() < stop_at:
        rounds = [send_many(c, next_id + 10 * i, 10) for i, c in enumerate(channels)]
        for results in await asyncio.gather(*rounds):
            outcomes.update(result.outcome for result in results)
        next_id += 10 * len(channels)
        await asyncio.sleep(0.05)
    return outcomes


async def test_one_message_probes_a_paused_account_then_all_resume(
    redis: aioredis.Redis,
) -> None:
    async with running_sandbox() as sandbox:
        sandbox.hold_callbacks = True
        workers = [worker_channel(sandbox, redis), worker_channel(sandbox, redis)]
        for channel in workers:
            await channel.start()
        try:
            sandbox.set_auth_token("jeton-changé-chez-twilio")
            [refused] = await send_many(workers[0], 1, 1)
            assert refused.held == CREDENTIALS_REFUSED
            sandbox.create_times.clear()

            held = await keep_sending(workers, 5 * PROBE_AFTER_S + 0.2)
            probes = sandbox.create_times[:]
            sandbox.set_auth_token(AUTH_TOKEN)
            fixed_at = time.monotonic()
            while not sandbox.messages:
                assert time.monotonic() - fixed_at < PROBE_AFTER_S + 2, "never probed again"
                await keep_sending(workers, 0.01)
            await asyncio.sleep(1.1)  # both workers have read that the account is closed
            sandbox.messages.clear()
            resumed = await keep_sending(workers, 0.3)
        finally:
            for channel in workers:
                await channel.close()
    # one request per probe period reached the refusing Twilio, whichever worker sent it
    # (at most: a worker reads the pauses from Redis once a second)
    assert 2 <= len(probes) <= 6, probes
    gaps = [later - earlier for earlier, later in itertools.pairwise(probes)]
    assert min(gaps) >= PROBE_AFTER_S - 0.05, gaps
    assert set(held) == {Outcome.transient}, held
    # the first probe with the right token closed the account for both workers
    assert set(resumed) == {Outcome.sent}, resumed
    assert len(sandbox.messages) == resumed[Outcome.sent]

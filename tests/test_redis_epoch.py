"""The epoch key tells a Redis that lost its data from one that kept it."""

from __future__ import annotations

import redis.asyncio as aioredis

from broadcast.core.redis_epoch import RedisEpoch, mark_epoch


async def test_a_worker_adopts_the_epoch_the_api_marked(redis: aioredis.Redis) -> None:
    await mark_epoch(redis)
    worker = RedisEpoch(redis)
    assert not await worker.lost_data()
    assert not await worker.lost_data()


async def test_a_worker_starting_on_an_empty_redis_assumes_the_loss_once(
    redis: aioredis.Redis,
) -> None:
    first, second = RedisEpoch(redis), RedisEpoch(redis)
    assert await first.lost_data()
    assert not await second.lost_data()
    assert not await first.lost_data()


async def test_once_redis_is_emptied_exactly_one_of_two_workers_resumes(
    redis: aioredis.Redis,
) -> None:
    await mark_epoch(redis)
    workers = [RedisEpoch(redis), RedisEpoch(redis)]
    assert [await w.lost_data() for w in workers] == [False, False]
    await redis.flushdb()
    assert sorted([await w.lost_data() for w in workers]) == [False, True]
    assert [await w.lost_data() for w in workers] == [False, False]


async def test_an_epoch_written_again_by_another_process_is_a_loss(
    redis: aioredis.Redis,
) -> None:
    await mark_epoch(redis)
    worker = RedisEpoch(redis)
    assert not await worker.lost_data()
    await redis.flushdb()
    await mark_epoch(redis)  # the API restarted first, on the emptied Redis
    assert await worker.lost_data()

"""What a worker process holds open for its jobs: built once, closed once."""

from __future__ import annotations

from dataclasses import dataclass

from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncEngine

from broadcast.broadcasts.planner import PlannerSettings
from broadcast.channels.base import Channel
from broadcast.channels.registry import build_channels
from broadcast.core.db import SessionFactory, create_engine, session_factory
from broadcast.core.redis_epoch import RedisEpoch
from broadcast.core.redis_url import connect as connect_redis
from broadcast.core.uow import Enqueuer
from broadcast.deliveries.dispatch import Dispatcher, RetryPolicy
from broadcast.deliveries.early_status import EarlyStatuses
from broadcast.deliveries.timings import BroadcastTimings
from broadcast.ratelimit import RateLimiter
from broadcast.settings import Settings
from broadcast.webhooks.sender import WebhookSender


@dataclass
class Resources:
    settings: Settings
    engine: AsyncEngine
    factory: SessionFactory
    redis: ArqRedis
    channels: dict[str, Channel]
    queue: Enqueuer
    """Where the jobs asked for in a job's transactions go: the arq pool."""
    planner: PlannerSettings
    dispatcher: Dispatcher
    webhooks: WebhookSender
    epoch: RedisEpoch

    @classmethod
    async def open(cls, settings: Settings, redis_url: str) -> Resources:
        # No round trip (SELECT 1) before every transaction: a dead connection fails the job,
        # which re-reads state and retries; recycled connections bound how stale one can get.
        engine = create_engine(settings, pool_pre_ping=False, pool_recycle=300)
        factory = session_factory(engine)
        redis = await connect_redis(redis_url)
        limiter = RateLimiter(redis)
        channels = build_channels(settings, limiter)
        for channel in channels.values():
            await channel.start()
        webhooks = WebhookSender(
            allow_http=settings.env == "dev", allow_internal=settings.webhooks_allow_internal
        )
        await webhooks.start()
        queue = redis
        retry = RetryPolicy(
            base_delay_s=settings.retry_base_delay_s,
            max_delay_s=settings.retry_max_delay_s,
            deadline_s=settings.retry_deadline_s,
        )
        return cls(
            settings=settings,
            engine=engine,
            factory=factory,
            redis=redis,
            channels=channels,
            queue=queue,
            planner=PlannerSettings(settings.fanout_chunk_size, settings.dispatch_batch_size),
            dispatcher=Dispatcher(
                factory,
                channels,
                limiter,
                retry,
                stale_claim_s=min(settings.worker_job_timeout_s + 10, settings.worker_lease_s),
                time_budget_s=settings.worker_job_timeout_s / 2,
                queue=queue,
                early_statuses=EarlyStatuses(redis),
                timings=BroadcastTimings(redis),
            ),
            webhooks=webhooks,
            epoch=RedisEpoch(redis),
        )

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()
        await self.webhooks.close()
        await self.redis.aclose()
        await self.engine.dispose()

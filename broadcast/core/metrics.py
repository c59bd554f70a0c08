"""Prometheus metrics, named per Prometheus conventions, shared by API processes and workers.

In production several processes (API and workers) write to one directory named by the
``PROMETHEUS_MULTIPROC_DIR`` environment variable, which prometheus-client reads when it is
imported: the ``broadcast`` command sets it from ``BROADCAST_METRICS_DIR`` before anything imports
this module, and ``/metrics`` then aggregates every process's files. Without it (tests, one
process) the metrics live in this process's registry.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess
from redis.asyncio import Redis

# Seconds: from a few milliseconds (a provider call) to an hour (a whole académie by SMS).
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_BROADCAST_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)

MESSAGES = Counter(
    "broadcast_messages",
    "Messages handed to a provider, by channel and outcome (sent, transient, permanent).",
    ["channel", "outcome"],
)
PROVIDER_LATENCY = Histogram(
    "broadcast_provider_request_duration_seconds",
    "Time a provider took to answer one message.",
    ["channel"],
    buckets=_LATENCY_BUCKETS,
)
RATE_LIMIT_WAIT = Histogram(
    "broadcast_rate_limit_wait_seconds",
    "Time a group of messages waited for rate-limit tokens.",
    ["channel"],
    buckets=_LATENCY_BUCKETS,
)
ACCOUNT_PAUSES = Counter(
    "broadcast_provider_account_pauses",
    "Provider accounts paused (credentials refused, or failing N times in a row), by channel.",
    ["channel", "account", "reason"],
)
CALLBACKS = Counter(
    "broadcast_provider_callbacks",
    "Provider status callbacks, by provider and outcome (queued, applied, unchanged, refused).",
    ["provider", "outcome"],
)
CALLBACK_LAG = Histogram(
    "broadcast_callback_lag_seconds",
    "From a provider callback's arrival to its status written in the ledger (through the "
    "callback stream).",
    ["provider"],
    buckets=_LATENCY_BUCKETS,
)
FIRST_DELIVERY = Histogram(
    "broadcast_time_to_first_delivery_seconds",
    "Per broadcast, from its confirmation to its first message accepted by a provider.",
    ["priority"],
    buckets=_BROADCAST_BUCKETS,
)
MOST_DELIVERED = Histogram(
    "broadcast_time_to_95_percent_sent_seconds",
    "Per broadcast, from its confirmation to 95 % of its messages accepted by a provider.",
    ["priority"],
    buckets=_BROADCAST_BUCKETS,
)
QUEUE_JOBS = Gauge(
    "broadcast_queue_jobs",
    "Jobs waiting in each queue, read from Redis when scraped.",
    ["queue"],
    multiprocess_mode="mostrecent",
)
QUEUE_AGE = Gauge(
    "broadcast_queue_oldest_job_age_seconds",
    "Age of the oldest job due in each queue (0 when none is due), read when scraped.",
    ["queue"],
    multiprocess_mode="mostrecent",
)
BUILD_INFO = Gauge(
    "broadcast_build_info",
    "Always 1; the labels say which version runs.",
    ["version", "python"],
    multiprocess_mode="max",
)


def _version() -> str:
    try:
        return version("broadcast")
    except PackageNotFoundError:  # run from a tree that was not installed
        return "unknown"


BUILD_INFO.labels(_version(), platform.python_version()).set(1)


@contextmanager
def timed(histogram: Histogram, *labels: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        histogram.labels(*labels).observe(time.perf_counter() - started)


async def observe_queues(redis: Redis, queues: Sequence[str]) -> None:
    """Depth and age of the oldest due job of each arq queue (a sorted set scored in ms)."""
    now_ms = time.time() * 1000
    for queue in queues:
        QUEUE_JOBS.labels(queue).set(await redis.zcard(queue))
        oldest = await redis.zrangebyscore(queue, "-inf", now_ms, start=0, num=1, withscores=True)
        QUEUE_AGE.labels(queue).set((now_ms - oldest[0][1]) / 1000 if oldest else 0)


def exposition() -> tuple[bytes, str]:
    """The text exposition of every process's metrics (or this one's, without a directory)."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    registry = CollectorRegistry()
    _multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry), CONTENT_TYPE_LATEST

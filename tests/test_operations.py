"""What a DSI monitors: /livez, /readyz (503 when the database or Redis is down) and the
Prometheus metrics, read back with prometheus-client's own parser after a real send."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from redis.asyncio import Redis

from admin.app import create_app
from broadcast.core.db import SessionFactory
from broadcast.core.logsetup import JsonLinesFormatter, MaskingFilter, mask_text
from broadcast.sandbox.smtp import SmtpSink
from broadcast.sandbox.twilio import TwilioSandbox
from broadcast.settings import Settings
from tests.sms_support import families, running_sandbox, through, with_sms
from tests.support import (
    add_contacts,
    api,
    auth,
    build_world,
    guardians,
    run_burst_workers,
    send_broadcast,
)
from workers import tasks
from workers.resources import Resources

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _scrape(client: httpx.AsyncClient) -> Samples:
    answer = await client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return _samples(answer.text)


def _samples(exposition: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


async def _scrape_until(
    client: httpx.AsyncClient, name: str, before: Samples, grown_by: float
) -> Samples:
    """Scrape until a counter of the callbacks (posted by the sandbox meanwhile) has grown."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        samples = await _scrape(client)
        total = sum(v for (n, _), v in samples.items() if n == name)
        if total - sum(v for (n, _), v in before.items() if n == name) >= grown_by:
            return samples
        assert asyncio.get_running_loop().time() < deadline, "callbacks did not arrive"
        await asyncio.sleep(0.05)


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
async def sandbox() -> AsyncIterator[TwilioSandbox]:
    async with running_sandbox() as server:
        server.hold_callbacks = True
        yield server


async def test_livez_and_readyz_answer_when_everything_is_up(settings: Settings) -> None:
    async with api(settings) as client:
        live = await client.get("/livez")
        ready = await client.get("/readyz")
    assert live.status_code == 200 and live.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": True, "redis": True}


async def test_readyz_is_503_in_french_when_redis_or_the_database_is_down(
    settings: Settings,
) -> None:
    port = _free_port()
    no_database = settings.model_copy(
        update={"database_url": f"postgresql+asyncpg://nobody@127.0.0.1:{port}/none"}
    )
    async with api(no_database) as client:
        live = await client.get("/livez")
        ready = await client.get("/readyz")
    assert live.status_code == 200
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"database": False, "redis": True}
    assert ready.json()["message"] == "Service indisponible : la base de données ne répond pas."

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        healthy = app.state.redis
        app.state.redis = Redis.from_url(f"redis://127.0.0.1:{port}/0")  # Redis gone away
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            ready = await client.get("/readyz")
        await app.state.redis.aclose()
        app.state.redis = healthy
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"database": True, "redis": False}
    assert ready.json()["message"] == "Service indisponible : Redis ne répond pas."


async def test_metrics_after_an_email_and_sms_send_hold_the_series_a_dsi_watches(
    settings: Settings, factory: SessionFactory, sink: SmtpSink, sandbox: TwilioSandbox
) -> None:
    settings = with_sms(settings, sandbox)
    world = await build_world(factory)
    await add_contacts(factory, families(world.school_x, 6))
    async with api(settings) as client:
        sandbox.deliver = through(client, settings)
        before = await _scrape(client)
        await send_broadcast(
            client,
            world.keys["head_x"],
            world.school_x,
            {"organisation_ids": [world.school_x]},
            ["email", "sms"],
        )
        queued = await _scrape(client)
        await run_burst_workers(settings)
        await sandbox.release_callbacks()
        after = await _scrape_until(client, "broadcast_callback_lag_seconds_count", before, 12)

    def grew(name: str, by: float, **labels: str) -> bool:
        return _value(after, name, **labels) - _value(before, name, **labels) == by

    assert grew("broadcast_messages_total", 6, channel="email", outcome="sent")
    assert grew("broadcast_messages_total", 6, channel="sms", outcome="sent")
    assert grew("broadcast_provider_request_duration_seconds_count", 6, channel="sms")
    assert _value(after, "broadcast_rate_limit_wait_seconds_count", channel="email") >= 1
    # "sent" was written by the dispatcher already; "delivered" moves each SMS forward
    assert grew("broadcast_provider_callbacks_total", 6, provider="twilio", outcome="unchanged")
    assert grew("broadcast_provider_callbacks_total", 6, provider="twilio", outcome="applied")
    assert grew("broadcast_callback_lag_seconds_count", 12, provider="twilio")
    assert grew("broadcast_time_to_first_delivery_seconds_count", 1, priority="normal")
    assert grew("broadcast_time_to_95_percent_sent_seconds_count", 1, priority="normal")
    assert _value(queued, "broadcast_queue_jobs", queue="broadcast:queue:bulk") == 1
    assert _value(after, "broadcast_queue_jobs", queue="broadcast:queue:bulk") == 0
    urgent = frozenset({("queue", "broadcast:queue:urgent")})
    assert ("broadcast_queue_oldest_job_age_seconds", urgent) in after
    build = [labels for name, labels in after if name == "broadcast_build_info"]
    assert build and {key for key, _ in build[0]} == {"version", "python"}


class _DispatchAtOnce:
    """The fan-out's queue, running each dispatch batch as soon as it is asked for: every
    message has left before the fan-out plans its last chunk (a small broadcast on an idle
    worker), so the fan-out, not a dispatch job, completes the broadcast."""

    def __init__(self, resources: Resources) -> None:
        self.resources = resources

    async def enqueue_job(self, function: str, *args: object, **_: object) -> None:
        if function == "dispatch":
            await tasks.dispatch({"resources": self.resources, "job_try": 1}, *args)


async def test_a_broadcast_completed_by_its_fan_out_has_its_time_to_95_percent_sent(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 3))
    assert settings.redis_url is not None
    resources = await Resources.open(settings, settings.redis_url)
    try:
        async with api(settings) as client:
            before = await _scrape(client)
            draft = await send_broadcast(
                client, world.keys["head_x"], world.school_x, {"organisation_ids": [world.school_x]}
            )
            at_once = replace(resources, queue=_DispatchAtOnce(resources))
            await tasks.fanout({"resources": at_once, "job_try": 1}, draft["id"])
            after = await _scrape(client)
            shown = await client.get(
                f"/api/v1/broadcasts/{draft['id']}", headers=auth(world.keys["head_x"])
            )
    finally:
        await resources.close()
    assert shown.json()["status"] == "completed"
    assert len(sink.messages) == 3
    count = "broadcast_time_to_95_percent_sent_seconds_count"
    assert _value(after, count, priority="normal") - _value(before, count, priority="normal") == 1


async def test_metrics_ask_for_the_token_when_one_is_set(settings: Settings) -> None:
    guarded = settings.model_copy(update={"metrics_token": SecretStr("s3cret-scrape")})
    async with api(guarded) as client:
        refused = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        allowed = await client.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape"})
    assert refused.status_code == wrong.status_code == 401
    assert allowed.status_code == 200 and "broadcast_build_info" in allowed.text


def test_masking_hides_addresses_not_diagnostics() -> None:
    line = (
        "twilio 429 error 20429 for +33612345678 via relay smtp2.ac-strasbourg.fr: "
        "SMTP 451 4.7.1 for jeanne.martin@exemple.fr, SID SM0123456789abcdef0123456789abcd"
    )
    masked = mask_text(line)
    assert masked == (
        "twilio 429 error 20429 for +336******78 via relay smtp2.ac-strasbourg.fr: "
        "SMTP 451 4.7.1 for j***n@e***.fr, SID SM0123456789abcdef0123456789abcd"
    )
    assert mask_text("appel au 06 12 34 56 78 ou 0033612345678") == (
        "appel au 0612****78 ou 0033*******78"
    )


def test_json_lines_are_one_object_per_event_with_addresses_masked() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(MaskingFilter())
    handler.setFormatter(JsonLinesFormatter())
    logger = logging.getLogger("test.json_lines")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("refused %s (twilio 21610)", "+33612345678")
        try:
            raise ValueError("paul@exemple.fr\nsecond line")
        except ValueError:
            logger.exception("insert failed")
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["level"] == "WARNING" and first["logger"] == "test.json_lines"
    assert first["message"] == "refused +336******78 (twilio 21610)"
    assert "paul@exemple.fr" not in second["exception"] and "p***l@e***.fr" in second["exception"]


def test_several_processes_are_added_up_in_multiprocess_mode(tmp_path: Path) -> None:
    """API processes and workers write to one directory; any of them serves the sum."""
    environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    count_one = "from broadcast.core.metrics import MESSAGES; MESSAGES.labels('sms', 'sent').inc(3)"
    for _ in range(2):  # two worker processes
        subprocess.run([sys.executable, "-c", count_one], env=environment, check=True)
    scrape = "from broadcast.core.metrics import exposition; print(exposition()[0].decode())"
    text = subprocess.run(
        [sys.executable, "-c", scrape],
        env=environment,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    samples = _samples(text)
    assert _value(samples, "broadcast_messages_total", channel="sms", outcome="sent") == 6

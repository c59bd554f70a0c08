"""``broadcast demo``: the whole service on embedded defaults, in one command.

Starts a private Redis, the SMTP sink that plays the email provider, seeds the demo académie,
runs a worker process and the API (with the outbox of captured messages at /demo/outbox), and
stops everything it started on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import subprocess
import sys

import uvicorn

from broadcast.db import create_engine, session_factory, transaction
from broadcast.demo import DemoCredentials, seed_demo
from broadcast.embedded_redis import redis_url_or_embedded
from broadcast.sandbox.smtp import SmtpSink
from broadcast.settings import Settings


async def _seed(settings: Settings) -> DemoCredentials:
    engine = create_engine(settings)
    try:
        async with transaction(session_factory(engine)) as session:
            return await seed_demo(session)
    finally:
        await engine.dispose()


def _start_worker(redis_url: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "BROADCAST_REDIS_URL": redis_url}
    return subprocess.Popen([sys.executable, "-m", "broadcast.cli", "worker"], env=env)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _banner(url: str, credentials: DemoCredentials) -> str:
    return f"""
  broadcast tourne en local (démo, fournisseurs simulés).

  API et documentation : {url}/docs
  Messages reçus par le faux serveur SMTP : {url}/demo/outbox

  Officier de communication (académie de Strasbourg) : {credentials.officer_email}
    clé d'API : {credentials.officer_key}
  Principal du collège Pasteur : {credentials.head_email}
    clé d'API : {credentials.head_key}

  Essai :  curl -H "Authorization: Bearer {credentials.head_key}" {url}/api/v1/organisations

  Ctrl-C pour tout arrêter.
"""


async def run_demo(settings: Settings, *, host: str, port: int) -> int:
    redis_url, embedded = redis_url_or_embedded(settings.redis_url, settings.var_dir)
    relay = settings.smtp_relays[0]
    sink = SmtpSink(host=relay.host, port=relay.port)
    await sink.start()
    worker = _start_worker(redis_url)
    try:
        credentials = await _seed(settings)
        app_settings = settings.model_copy(update={"redis_url": redis_url})
        create_app = importlib.import_module("admin.app").create_app
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(app_settings, outbox=sink), host=host, port=port, log_level="warning"
            )
        )
        serving = asyncio.ensure_future(server.serve())
        while not server.started and not serving.done():  # noqa: ASYNC110 - uvicorn has no event
            await asyncio.sleep(0.05)
        if server.started:
            print(_banner(f"http://{host}:{port}", credentials), flush=True)
        await serving
    finally:
        _stop(worker)
        await sink.stop()
        if embedded is not None:
            embedded.stop()
    return 0

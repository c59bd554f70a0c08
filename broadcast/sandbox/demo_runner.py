"""``broadcast demo``: the whole service on embedded defaults, in one command.

Starts a private Redis, the SMTP sink that plays the email provider, the Twilio sandbox that plays
the SMS provider (one account, its signed status callbacks posted back to the API), the push
sandbox that plays the browsers' push services (with a fresh VAPID key, and a few subscriptions of
the Collège Pasteur's families and followers that it can decrypt), seeds the demo académie, runs
a worker process and the API (with the outbox of captured messages at /demo and /demo/outbox),
and stops everything it started on Ctrl-C.

The API is built by the ``broadcast`` command, the one composition root, which passes its
factory in (:data:`DemoApp`): nothing under broadcast/ imports admin/ or workers/.

The API's settings and the worker's environment agree on the sandbox account and on
``public_base_url``, the demo's own URL, where the status callbacks are sent and checked.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import uvicorn
from pydantic import SecretStr

from broadcast.channels.push.vapid import generate_vapid_keys
from broadcast.core.db import create_engine, session_factory, transaction
from broadcast.core.embedded_redis import redis_url_or_embedded
from broadcast.sandbox.demo import (
    DemoAccount,
    DemoCredentials,
    seed_demo,
    seed_push_subscriptions,
)
from broadcast.sandbox.push import PushSandbox
from broadcast.sandbox.smtp import SmtpSink
from broadcast.sandbox.twilio import TwilioSandbox
from broadcast.settings import Settings, TwilioAccount

DemoApp = Callable[[Settings, SmtpSink, TwilioSandbox, PushSandbox], Any]
"""Builds the demo's ASGI app from its settings and the sandboxes whose captures it shows."""

DEMO_ACCOUNT_SID = "AC" + "de30" * 8
DEMO_SENDER_ID = "ACSTRASBG"
DEMO_VAPID_SUBJECT = "mailto:dsi@ac-strasbourg.demo"


async def _seed(settings: Settings, push: PushSandbox, server_key: str) -> DemoCredentials:
    engine = create_engine(settings)
    try:
        async with transaction(session_factory(engine)) as session:
            credentials = await seed_demo(session)
            await seed_push_subscriptions(
                session, settings, lambda: push.new_subscription(server_key)
            )
            return credentials
    finally:
        await engine.dispose()


def _public_url(host: str, port: int) -> str:
    """The demo's URL as this machine reaches it (a wildcard address is reached on loopback)."""
    if host in {"", "0.0.0.0", "::"}:  # noqa: S104 - naming the wildcard, not binding to it
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _sandbox_account(sandbox: TwilioSandbox, auth_token: str) -> dict[str, str]:
    """The demo's one Twilio account, on the sandbox; as JSON it is BROADCAST_TWILIO_ACCOUNTS."""
    return {
        "name": "demo",
        "account_sid": sandbox.account_sid,
        "auth_token": auth_token,
        "sender_id": DEMO_SENDER_ID,
        "base_url": sandbox.base_url,
    }


def _start_worker(
    redis_url: str, public_url: str, twilio_account: dict[str, str], vapid_private_key: str
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "BROADCAST_REDIS_URL": redis_url,
        "BROADCAST_PUBLIC_BASE_URL": public_url,
        "BROADCAST_TWILIO_ACCOUNTS": json.dumps([twilio_account]),
        "BROADCAST_VAPID_PRIVATE_KEY": vapid_private_key,
        "BROADCAST_VAPID_SUBJECT": DEMO_VAPID_SUBJECT,
        "BROADCAST_WEBHOOKS_ALLOW_INTERNAL": "true",  # a subscriber on this machine may try it
    }
    return subprocess.Popen([sys.executable, "-m", "broadcast.cli", "worker"], env=env)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _banner(url: str, credentials: DemoCredentials) -> str:
    accounts = "\n".join(_account_lines(account) for account in credentials.accounts)
    return f"""
  broadcast tourne en local (démo, fournisseurs simulés).

  Console : {url}/console/

{accounts}

  Boîte d'envoi (e-mails, SMS et notifications reçus par les faux fournisseurs) : {url}/demo
    en JSON : {url}/demo/outbox
  API et documentation : {url}/docs
    clé d'API de l'officier : {credentials.officer_key}
    clé d'API du principal : {credentials.head_key}
  Essai :  curl -H "Authorization: Bearer {credentials.head_key}" {url}/api/v1/organisations

  Ctrl-C pour tout arrêter.
"""


def _account_lines(account: DemoAccount) -> str:
    """An account as the banner lists it: who, the address, the password and the TOTP secret
    to enter in an authenticator app (or none, for a head teacher, to whom it is offered)."""
    second = (
        f"secret TOTP : {account.totp_secret}"
        if account.totp_secret
        else "second facteur : aucun (proposé à la connexion)"
    )
    return (
        f"  {account.title}\n"
        f"    adresse : {account.email}\n"
        f"    mot de passe : {account.password}\n"
        f"    {second}"
    )


async def run_demo(settings: Settings, demo_app: DemoApp, *, host: str, port: int) -> int:
    redis_url, embedded = redis_url_or_embedded(settings.redis_url, settings.var_dir)
    public_url = _public_url(host, port)
    relay = settings.smtp_relays[0]
    sink = SmtpSink(host=relay.host, port=relay.port)
    auth_token = secrets.token_hex(16)
    sandbox = TwilioSandbox(DEMO_ACCOUNT_SID, auth_token)
    push = PushSandbox()
    vapid_private_key, server_key = generate_vapid_keys()
    worker: subprocess.Popen[bytes] | None = None
    try:
        await sink.start()
        await sandbox.start()
        await push.start()
        twilio_account = _sandbox_account(sandbox, auth_token)
        worker = _start_worker(redis_url, public_url, twilio_account, vapid_private_key)
        app_settings = settings.model_copy(
            update={
                "redis_url": redis_url,
                "public_base_url": public_url,
                "twilio_accounts": [TwilioAccount.model_validate(twilio_account)],
                "vapid_private_key": SecretStr(vapid_private_key),
                "vapid_subject": DEMO_VAPID_SUBJECT,
                "webhooks_allow_internal": True,
            }
        )
        credentials = await _seed(app_settings, push, server_key)
        server = uvicorn.Server(
            uvicorn.Config(
                demo_app(app_settings, sink, sandbox, push),
                host=host,
                port=port,
                log_level="warning",
                proxy_headers=False,  # the app believes only BROADCAST_TRUSTED_PROXIES
            )
        )
        serving = asyncio.ensure_future(server.serve())
        while not server.started and not serving.done():  # noqa: ASYNC110 - uvicorn has no event
            await asyncio.sleep(0.05)
        if server.started:
            print(_banner(public_url, credentials), flush=True)
        try:
            await serving
        except asyncio.CancelledError:
            # uvicorn stopped on Ctrl-C, then raised the signal again, so asyncio.run cancels
            # this task: the demo was asked to stop and does so below, without a traceback
            task = asyncio.current_task()
            if not server.should_exit or task is None:
                raise
            task.uncancel()
    finally:
        if worker is not None:
            _stop(worker)
        await push.stop()
        await sandbox.stop()
        await sink.stop()
        if embedded is not None:
            embedded.stop()
    return 0

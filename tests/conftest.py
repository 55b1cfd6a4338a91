"""Shared fixtures: one real Spanner emulator per test session, on a free port.

They build on the fixtures of the package's own pytest plugin (``spanner_pools.pytest_plugin``:
``spanner_emulator``, ``spanner_ddl``, ``spanner_database``), which users get too. Set
``SPANNER_EMULATOR_BIN`` to use an emulator binary outside the standard install paths.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from spanner_pools import PoolManager, registry
from spanner_pools._compat import NO_BUILTIN_METRICS
from spanner_pools.emulator import Emulator, provision
from spanner_pools.settings import _settings_for_tests

if TYPE_CHECKING:
    from spanner_pools.pytest_plugin import SpannerTestDatabase

    from .proxy import (
        BlackHoleProxy,  # imported by pytest as a plugin (below), not here: assert rewriting
    )

# The package's plugin is loaded through its entry point once installed (then this is a
# no-op); naming it here keeps the fixtures working in a checkout not reinstalled yet.
pytest_plugins = ["pytester", "spanner_pools.pytest_plugin"]

PROJECT = "test-project"
INSTANCE = "test-instance"
SCHEMA = [
    "CREATE TABLE notes (id STRING(64) NOT NULL, body STRING(MAX)) PRIMARY KEY (id)",
]

# Tests talk to the emulator through settings, never through the process environment.
os.environ.pop("SPANNER_EMULATOR_HOST", None)


@pytest.fixture(scope="session")
def spanner_ddl() -> list[str]:
    """The schema of every ``spanner_database`` (the plugin's fixture, overridden)."""
    return list(SCHEMA)


@pytest.fixture(scope="session")
def emulator(spanner_emulator: Emulator) -> Emulator:
    """The plugin's emulator (the request log is on: count RPCs with ``requests()``)."""
    assert spanner_emulator.log_requests, "pyproject sets spanner_emulator_log_requests"
    provision(
        spanner_emulator.host,
        project=PROJECT,
        instance=INSTANCE,
        database="base",
        ddl=SCHEMA,
        exist_ok=True,
    )
    return spanner_emulator


@pytest.fixture(scope="session")
def admin_client(emulator: Emulator) -> Iterator[Any]:
    """A plain client for admin calls (the emulator allows 100 databases per instance)."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud.spanner_v1 import Client

    client = Client(
        project=PROJECT,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": emulator.host},
        **NO_BUILTIN_METRICS,
    )
    yield client
    client.database_admin_api.transport.close()


@pytest.fixture
def database_id(emulator: Emulator, spanner_database: SpannerTestDatabase) -> str:
    """A fresh database for this test (the plugin's ``spanner_database``), dropped after."""
    assert (spanner_database.project, spanner_database.instance) == (PROJECT, INSTANCE)
    return spanner_database.database


@pytest.fixture
def spanner_config(emulator: Emulator, database_id: str) -> dict[str, Any]:
    """Core settings (upper-case keys) pointing at this test's database."""
    return {
        "PROJECT": PROJECT,
        "INSTANCE": INSTANCE,
        "DATABASE": database_id,
        "EMULATOR_HOST": emulator.host,
        "POOL_SIZE": 3,
    }


@pytest.fixture
def make_manager(spanner_config: dict[str, Any]) -> Iterator[Callable[..., PoolManager]]:
    """Build managers from ``spanner_config`` plus overrides; all closed after the test.

    Through the test-only ``_settings_for_tests``: durations may be below the user-facing
    minimums (``PING_INTERVAL=0.2``) so that pinger and rotation tests run in seconds."""
    made: list[PoolManager] = []

    def make(**overrides: Any) -> PoolManager:
        manager = PoolManager(_settings_for_tests({**spanner_config, **overrides}))
        made.append(manager)
        return manager

    yield make
    for manager in made:
        manager.close()


@pytest.fixture
def server_sessions(admin_client: Any, database_id: str) -> Callable[[], list[Any]]:
    """List the sessions the emulator holds for this test's database (ListSessions)."""
    database = admin_client.instance(INSTANCE).database(database_id)
    name = database.name

    def list_sessions() -> list[Any]:
        return list(database.spanner_api.list_sessions(database=name))

    return list_sessions


@pytest.fixture(autouse=True)
def _no_leftover_managers() -> Iterator[None]:
    """Every test leaves the per-process registry as it found it."""
    before = set(map(id, registry.managers()))
    yield
    for manager in registry.managers():
        if id(manager) not in before:
            manager.close()


@pytest.fixture
def proxied(emulator: Emulator) -> Iterator[BlackHoleProxy]:
    """A loopback proxy to the emulator that can refuse, delay or swallow traffic."""
    from .proxy import BlackHoleProxy

    proxy = BlackHoleProxy(emulator.port)
    yield proxy
    proxy.close()

"""Shared fixtures: one real Spanner emulator per test session, on a free port.

Set ``SPANNER_EMULATOR_BIN`` to use an emulator binary outside the standard install paths.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from spanner_pools import PoolManager, registry
from spanner_pools.emulator import Emulator, provision
from spanner_pools.settings import _settings_for_tests

PROJECT = "test-project"
INSTANCE = "test-instance"
SCHEMA = [
    "CREATE TABLE notes (id STRING(64) NOT NULL, body STRING(MAX)) PRIMARY KEY (id)",
]

# Tests talk to the emulator through settings, never through the process environment.
os.environ.pop("SPANNER_EMULATOR_HOST", None)


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    """The emulator process, with the request log on (count RPCs with ``requests()``)."""
    with Emulator(log_requests=True) as emu:
        provision(emu.host, project=PROJECT, instance=INSTANCE, database="base", ddl=SCHEMA)
        yield emu


@pytest.fixture(scope="session")
def admin_client(emulator: Emulator) -> Iterator[Any]:
    """A plain client for admin calls (the emulator allows 100 databases per instance)."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud.spanner_v1 import Client

    client = Client(
        project=PROJECT,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": emulator.host},
        disable_builtin_metrics=True,
    )
    yield client
    client.database_admin_api.transport.close()


@pytest.fixture
def database_id(emulator: Emulator, admin_client: Any) -> Iterator[str]:
    """A fresh database for this test, so session counts are never shared; dropped after."""
    name = "db" + uuid.uuid4().hex[:12]
    provision(emulator.host, project=PROJECT, instance=INSTANCE, database=name, ddl=SCHEMA)
    yield name
    admin_client.instance(INSTANCE).database(name).drop()


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

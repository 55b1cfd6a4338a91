"""Fixtures of the Flask tests: a second database for ``SPANNER_BINDS``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from spanner_pools.emulator import Emulator, provision
from tests.conftest import INSTANCE, PROJECT

#: The second database's own table, so a test can tell which database answered.
EVENTS_SCHEMA = [
    "CREATE TABLE events (id STRING(64) NOT NULL, kind STRING(MAX)) PRIMARY KEY (id)",
]


@pytest.fixture
def events_database(emulator: Emulator, admin_client: Any) -> Iterator[str]:
    """A second fresh database (table ``events``) for binds; dropped after the test."""
    name = "ev" + uuid.uuid4().hex[:12]
    provision(emulator.host, project=PROJECT, instance=INSTANCE, database=name, ddl=EVENTS_SCHEMA)
    yield name
    admin_client.instance(INSTANCE).database(name).drop()

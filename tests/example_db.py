"""The ``admin`` and ``example_db`` fixtures shared by the server, reliability and ORM suites.

Each suite's conftest imports them, so each keeps its own session-scoped admin client.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from example_site.schema import SCHEMA as EXAMPLE_SCHEMA
from spanner_pools.emulator import Emulator
from tests.reliability.harness import Admin


@pytest.fixture(scope="session")
def admin(emulator: Emulator) -> Iterator[Admin]:
    """Admin client (ListSessions, databases) on the suite-wide emulator."""
    client = Admin(emulator.host)
    yield client
    client.close()


@pytest.fixture
def example_db(admin: Admin) -> Iterator[str]:
    """A fresh database with the example site's schema on the suite-wide emulator."""
    name = admin.create_database(EXAMPLE_SCHEMA, prefix="ex")
    yield name
    admin.drop(name)

"""The ORMs under ``gunicorn --preload -w 3 --threads 2``: 1,000 requests (a third of them
writes), no failure, no session left, threads and RSS of every worker flat."""

from __future__ import annotations

from typing import Any

import pytest

from spanner_pools.emulator import Emulator
from tests.conftest import INSTANCE, PROJECT, SCHEMA
from tests.e2e import GunicornServer
from tests.reliability.harness import Admin, fair_args

from . import load

pytestmark = pytest.mark.e2e


@pytest.fixture
def figures() -> dict[str, Any]:
    return {}


def orm_env(emulator: Emulator, database: str) -> dict[str, str]:
    return {
        "ORM_SPANNER_PROJECT": PROJECT,
        "ORM_SPANNER_INSTANCE": INSTANCE,
        "ORM_SPANNER_DATABASE": database,
        "ORM_SPANNER_EMULATOR_HOST": emulator.host,
        "ORM_SPANNER_POOL_SIZE": str(load.POOL_SIZE),
        "SPANNER_DISABLE_BUILTIN_METRICS": "true",
    }


def test_flask_sqlalchemy_preload_load(
    emulator: Emulator, admin: Admin, figures: dict[str, Any]
) -> None:
    database = admin.create_database(SCHEMA, prefix="sqla")
    server = GunicornServer(
        "tests.orm.sqla_app:app",
        workers=load.WORKERS,
        threads=load.THREADS,
        preload=True,
        env=orm_env(emulator, database),
        extra_args=fair_args(load.THREADS),
    )
    try:
        load.run_load(
            server, admin, database, figures, write=("POST", "/notes"), read=("GET", "/notes")
        )
    finally:
        server.stop()
        print("figures:", figures)
        admin.drop(database)

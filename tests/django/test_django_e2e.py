"""The test project served by real gunicorn (2 sync workers, the core's hooks), with and
without ``--preload``: concurrent reads and writes, one pool per worker, nothing left behind."""

from __future__ import annotations

from typing import Any

import pytest

from spanner_pools.emulator import Emulator
from tests.e2e import GunicornServer, hammer, request, writes

from .emulator_db import EmulatorDatabase

pytestmark = pytest.mark.e2e

POOL_SIZE = 3
APP = "tests.django.project.wsgi:application"


@pytest.mark.parametrize("preload", [False, True], ids=["no-preload", "preload"])
def test_gunicorn_two_workers(
    preload: bool, emulator: Emulator, fresh_database: EmulatorDatabase
) -> None:
    server_sessions = fresh_database.sessions
    server = GunicornServer(
        APP,
        workers=2,
        preload=preload,
        env={
            "DJANGO_SETTINGS_MODULE": "tests.django.project.settings",
            "DJANGO_SPANNER_EMULATOR_HOST": emulator.host,
            "DJANGO_SPANNER_DATABASE": fresh_database.name,
            "DJANGO_SPANNER_POOL_SIZE": str(POOL_SIZE),
        },
        # gunicorn 27's default control socket is one path per user: tests run side by side.
        extra_args=["--no-control-socket"],
    )
    server.start(ready_path="/pid/")
    try:
        calls: list[tuple[str, str, Any]] = []
        for i in range(100):
            if i % 4 == 0:
                calls.append(("POST", "/notes/", {"id": f"n{i:03d}", "body": f"note {i}"}))
            else:
                calls.append(("GET", "/notes/", None))
        responses = hammer(server.port, calls, concurrency=8, one_at_a_time=writes)
        failures = [(r.status, r.body[:200]) for r in responses if r.status not in (200, 201)]
        assert failures == [], server.log()[-3000:]
        pids = {r.json()["pid"] for r in responses}
        assert len(pids) == 2, pids
        # Every write landed exactly once.
        listing = request(server.port, "GET", "/notes/").json()["notes"]
        assert [row[0] for row in listing] == [f"n{i:03d}" for i in range(0, 100, 4)]
        # One pool per worker (opened by post_worker_init), none in the master.
        assert len(server_sessions()) == 2 * POOL_SIZE
    finally:
        code = server.stop()
    assert code == 0, server.log()[-3000:]
    assert server_sessions() == [], server.log()[-3000:]
    log = server.log()
    assert "Traceback" not in log, log[-3000:]
    assert "before fork" not in log, log[-3000:]  # the master never opened a pool

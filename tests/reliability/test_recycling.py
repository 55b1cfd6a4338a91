"""Scenario 2: worker recycling (``--max-requests 50 --max-requests-jitter 10``).

Through at least ten recycles the number of sessions on the server never exceeds what the
live workers' pools hold: every exiting worker deletes its sessions (``worker_exit``), and
after the server stops none is left.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from spanner_pools.emulator import Emulator
from tests.e2e import GunicornServer, Response, hammer, writes

from .harness import Admin, example_server, failures, tail

pytestmark = pytest.mark.e2e

WORKERS = 2
POOL_SIZE = 2
BATCHES = 8
BATCH = 100  # requests per batch; at most 60 per worker life, so >= 13 recycles
MIN_RECYCLES = 10


def test_max_requests_recycling_leaves_no_sessions(
    emulator: Emulator,
    admin: Admin,
    example_db: str,
    servers: Callable[[GunicornServer], GunicornServer],
    figures: dict[str, Any],
) -> None:
    server = servers(
        example_server(
            emulator.host,
            example_db,
            settings={"POOL_SIZE": POOL_SIZE, "POOL_TIMEOUT": 30},
            workers=WORKERS,
            preload=True,
            extra_args=["--max-requests", "50", "--max-requests-jitter", "10"],
        )
    )
    offset = emulator.log_offset()  # count every session RPC of every worker
    server.start(ready_path="/health")
    responses: list[Response] = []
    on_server: list[int] = []  # sampled between batches, while serving
    for batch in range(BATCHES):
        calls = [
            ("POST", "/notes", {"body": f"b{batch}-{i}"})
            if i % 10 == 0
            else ("GET", "/notes", None)
            for i in range(BATCH)
        ]
        responses += hammer(server.port, calls, concurrency=4, one_at_a_time=writes)
        on_server.append(len(admin.session_names(example_db)))
    pids = {r.headers.get("x-worker-pid") for r in responses}
    recycles = server.log().count("Autorestarting worker")
    code = server.stop()
    left = len(admin.session_names(example_db))
    rpcs = emulator.requests(offset)
    failed = failures(responses)
    figures.update(
        requests=len(responses),
        failures=len(failed),
        recycles=recycles,
        worker_pids_seen=len(pids),
        max_sessions_on_server_while_serving=max(on_server),
        live_pools_capacity=WORKERS * POOL_SIZE,
        sessions_left_after_stop=left,
        delete_session_rpcs=rpcs["Spanner.DeleteSession"],
        batch_create_rpcs=rpcs["Spanner.BatchCreateSessions"],
    )
    assert failed == [], f"{len(failed)} failed: {failed[:3]}\n{tail(server)}"
    assert recycles >= MIN_RECYCLES, tail(server)
    assert max(on_server) <= WORKERS * POOL_SIZE, (on_server, tail(server))
    assert code == 0, tail(server)
    assert left == 0, tail(server)
    # Every worker, first or replacement, deleted each session it created, exactly once.
    assert rpcs["Spanner.BatchCreateSessions"] >= WORKERS + MIN_RECYCLES, rpcs
    assert rpcs["Spanner.DeleteSession"] == rpcs["Spanner.BatchCreateSessions"] * POOL_SIZE, rpcs

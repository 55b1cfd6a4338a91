"""Scenario 8: the example site under ``gunicorn -k gevent``, with and without ``--preload``.

Scenario 1 at a smaller scale: 300 requests at concurrency 16 (one in five a read-write
transaction) without a failure, each worker on its own sessions, none left after stop. The
example's own gunicorn config is used; the core's ``post_worker_init`` switches gRPC to
gevent-friendly polling.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e import GunicornServer, hammer, writes

from .harness import (
    Admin,
    failures,
    sessions_by_worker,
    shared_sessions,
    tail,
    worker_stats,
)

pytestmark = pytest.mark.e2e

WORKERS = 2
POOL_SIZE = 4
REQUESTS = 300
WRITE_EVERY = 5
CONCURRENCY = 16


@pytest.mark.parametrize("preload", [False, True], ids=["no-preload", "preload"])
def test_gevent_workers_under_load(
    preload: bool,
    admin: Admin,
    example_db: str,
    example_site: Callable[..., GunicornServer],
    figures: dict[str, Any],
) -> None:
    server = example_site(
        # Greenlets outnumber sessions: a request may wait for one, never fail for it.
        settings={"POOL_SIZE": POOL_SIZE, "POOL_TIMEOUT": 30},
        workers=WORKERS,
        worker_class="gevent",
        preload=preload,
    )
    calls = [
        ("POST", "/notes", {"body": f"g{i}"}) if i % WRITE_EVERY == 0 else ("GET", "/notes", None)
        for i in range(REQUESTS)
    ]
    responses = hammer(server.port, calls, CONCURRENCY, one_at_a_time=writes)
    stats = worker_stats(server.port, WORKERS)
    serving = len(admin.session_names(example_db))
    code = server.stop()
    left = len(admin.session_names(example_db))
    failed = failures(responses)
    by_pid = sessions_by_worker(responses)
    figures.update(
        requests=REQUESTS,
        read_write_transactions=REQUESTS // WRITE_EVERY,
        concurrency=CONCURRENCY,
        failures=len(failed),
        workers=len(by_pid),
        shared_session_ids=len(shared_sessions(by_pid)),
        max_in_use=[s["max_in_use"] for s in stats.values()],
        sessions_on_server_while_serving=serving,
        sessions_left_after_stop=left,
    )
    assert failed == [], f"{len(failed)} failed: {failed[:3]}\n{tail(server)}"
    assert admin.count_rows(example_db) == REQUESTS // WRITE_EVERY
    assert shared_sessions(by_pid) == set(), by_pid
    assert all(len(ids) <= POOL_SIZE for ids in by_pid.values()), by_pid
    assert all(s["in_use"] == 0 and s["pinger_alive"] for s in stats.values()), stats
    assert serving == WORKERS * POOL_SIZE
    assert code == 0, tail(server)
    assert left == 0, tail(server)
    assert "Traceback" not in server.log(), tail(server)

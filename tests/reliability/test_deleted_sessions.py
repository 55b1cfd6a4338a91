"""Scenario 4: every session is deleted on the server behind the library's back.

While the site is idle a plain client lists and deletes every session of its database (as
the server does with sessions idle for an hour). The next requests see no error: the
handle replaces a session the server lost and runs the operation again, and ``/stats``
counts the replacements. No session is left behind after stop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e import GunicornServer, hammer, writes

from .harness import Admin, failures, tail, worker_stats

pytestmark = pytest.mark.e2e

WORKERS = 2
POOL_SIZE = 2
REQUESTS = 100


def test_sessions_deleted_on_the_server_are_replaced_unseen(
    admin: Admin,
    example_db: str,
    example_site: Callable[..., GunicornServer],
    figures: dict[str, Any],
) -> None:
    server = example_site(
        # The default PING_INTERVAL (300 s): the requests, not the pinger, meet the loss.
        settings={"POOL_SIZE": POOL_SIZE},
        workers=WORKERS,
        threads=2,
    )
    for _ in range(40):  # both workers have opened their pools (bounded)
        if len(admin.session_names(example_db)) == WORKERS * POOL_SIZE:
            break
        hammer(server.port, [("GET", "/health", None)] * 8, concurrency=8)
    deleted = admin.delete_all_sessions(example_db)
    calls = [
        ("POST", "/notes", {"body": f"after {i}"}) if i % 4 == 0 else ("GET", "/notes", None)
        for i in range(REQUESTS)
    ]
    responses = hammer(server.port, calls, concurrency=4, one_at_a_time=writes)
    stats = worker_stats(server.port, WORKERS)
    serving = len(admin.session_names(example_db))
    code = server.stop()
    left = len(admin.session_names(example_db))
    failed = failures(responses)
    replaced = {pid: s["sessions_replaced"] for pid, s in stats.items()}
    figures.update(
        sessions_deleted_behind_the_back=deleted,
        requests=REQUESTS,
        failures=len(failed),
        sessions_replaced_per_worker=sorted(replaced.values()),
        sessions_on_server_after=serving,
        sessions_left_after_stop=left,
    )
    assert deleted == WORKERS * POOL_SIZE
    assert failed == [], f"{len(failed)} failed: {failed[:3]}\n{tail(server)}"
    assert sum(replaced.values()) > 0, stats
    assert all(s["in_use"] == 0 for s in stats.values()), stats
    assert serving <= WORKERS * POOL_SIZE, serving  # replacements, nothing more
    assert code == 0, tail(server)
    assert left == 0, tail(server)

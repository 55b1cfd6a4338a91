"""Scenario 1: ``gunicorn --preload`` under load.

The example site with ``--preload -w 3 --threads 4`` answers 2000 requests at concurrency 16
(one in five a read-write transaction, ``POST /notes``; the others reads, ``GET /notes``)
without one failure, each worker on its own sessions. Beside it, the hand-written pattern the
library replaces (a plain ``PingingPool`` built at import) is served the same way, and its
workers are shown to share the master's session IDs: the regression guard for why the
library exists.

Why the writes are sent one at a time (``hammer(one_at_a_time=writes)``), while the reads run
beside them at full concurrency: the emulator runs one read-write transaction at a time and
aborts the others ("only supports one transaction at a time"). The client retries an aborted
transaction with a backoff of 2, 4, 8, then 16 s and gives up once that passes its 30 s
deadline, so four aborts in a row make a 500. With writes in flight concurrently, that happened
to 1 of 400 writes in one clean run: how often depends on how the shared machine schedules the
threads, not on the library (Cloud Spanner locks rows; it does not serialise every
transaction). With one write in flight the emulator never aborts one, so every failure left is
the library's. What the test proves is unchanged: preload plus threads under mixed load, every
write landed exactly once, no session shared between workers, all deleted at exit. Aborts
and their retry are tested on purpose in test_aborts.py."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from spanner_pools.emulator import Emulator
from tests.conftest import INSTANCE, PROJECT
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

WORKERS = 3
THREADS = 4
POOL_SIZE = 4
REQUESTS = 2000
WRITE_EVERY = 5  # one request in five is a read-write transaction
CONCURRENCY = 16


def test_preload_threads_2000_requests(
    admin: Admin,
    example_db: str,
    example_site: Callable[..., GunicornServer],
    figures: dict[str, Any],
) -> None:
    server = example_site(
        settings={"POOL_SIZE": POOL_SIZE, "POOL_TIMEOUT": 30},
        workers=WORKERS,
        threads=THREADS,
        preload=True,
    )
    calls = [
        ("POST", "/notes", {"body": f"note {i}"})
        if i % WRITE_EVERY == 0
        else ("GET", "/notes", None)
        for i in range(REQUESTS)
    ]
    responses = hammer(server.port, calls, CONCURRENCY, one_at_a_time=writes)
    failed = failures(responses)
    by_pid = sessions_by_worker(responses)
    stats = worker_stats(server.port, WORKERS)
    serving = len(admin.session_names(example_db))
    code = server.stop()
    left = len(admin.session_names(example_db))
    figures.update(
        requests=REQUESTS,
        read_write_transactions=REQUESTS // WRITE_EVERY,
        concurrency=CONCURRENCY,
        failures=len(failed),
        workers=len(by_pid),
        sessions_per_worker=sorted(len(ids) for ids in by_pid.values()),
        shared_session_ids=len(shared_sessions(by_pid)),
        sessions_on_server_while_serving=serving,
        sessions_left_after_stop=left,
    )
    assert failed == [], f"{len(failed)} of {REQUESTS} failed: {failed[:3]}\n{tail(server)}"
    assert (
        admin.count_rows(example_db) == REQUESTS // WRITE_EVERY
    )  # every write landed exactly once
    assert len(by_pid) == WORKERS, by_pid
    assert shared_sessions(by_pid) == set(), f"workers shared sessions: {by_pid}"
    assert all(len(ids) <= POOL_SIZE for ids in by_pid.values()), by_pid
    assert all(s["sessions_replaced"] == 0 and s["in_use"] == 0 for s in stats.values()), stats
    assert serving == WORKERS * POOL_SIZE  # one pool per worker, none in the master
    assert code == 0, tail(server)
    assert left == 0, tail(server)
    assert "Traceback" not in server.log(), tail(server)


NAIVE_REQUESTS = 150


def test_naive_preload_pool_is_shared_by_workers(
    emulator: Emulator,
    admin: Admin,
    probe_db: str,
    servers: Callable[[GunicornServer], GunicornServer],
    figures: dict[str, Any],
) -> None:
    """A plain ``PingingPool`` bound at import, ``--preload -w 3``: the workers lend the
    master's sessions to concurrent transactions, which then fail ("Transaction not found",
    "Invalid transaction ID"). Sharing is asserted; the failure count is recorded, since
    how many requests collide depends on timing."""
    server = servers(
        GunicornServer(
            "tests.reliability.naive_app:app",
            workers=WORKERS,
            threads=2,
            preload=True,
            config=None,
            env={
                "NAIVE_EMULATOR_HOST": emulator.host,
                "NAIVE_PROJECT": PROJECT,
                "NAIVE_INSTANCE": INSTANCE,
                "NAIVE_DATABASE": probe_db,
                "NAIVE_POOL_SIZE": "4",
                # Transactions run on the pool's sessions, never on a multiplexed one.
                "GOOGLE_CLOUD_SPANNER_MULTIPLEXED_SESSIONS": "false",
                "GOOGLE_CLOUD_SPANNER_MULTIPLEXED_SESSIONS_FOR_RW": "false",
            },
            extra_args=["--timeout", "10"],  # a worker stuck in gRPC is killed, bounded
        )
    )
    server.start(ready_path="/health")
    responses = hammer(
        server.port, [("POST", "/write", None)] * NAIVE_REQUESTS, CONCURRENCY, timeout=15
    )
    server.stop()
    by_pid: dict[int, set[str]] = {}
    for response in responses:
        if response.status == 200:
            body = response.json()
            by_pid.setdefault(body["pid"], set()).add(body["session"])
    failed = failures(responses)
    shared = shared_sessions(by_pid)
    log = server.log()
    figures.update(
        requests=NAIVE_REQUESTS,
        concurrency=CONCURRENCY,
        failures=len(failed),
        statuses=dict(sorted(Counter(r.status for r in responses).items())),
        transaction_not_found=log.count("Transaction not found"),
        workers=len(by_pid),
        shared_session_ids=len(shared),
        sessions_left_after_stop=len(admin.session_names(probe_db)),
    )
    assert len(by_pid) >= 2, f"only {len(by_pid)} worker answered: {failed[:3]}"
    assert shared, f"the naive workers did not share sessions: {by_pid}"

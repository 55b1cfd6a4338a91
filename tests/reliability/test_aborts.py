"""Scenario 7: transaction aborts.

Every write request of the example site is made to be aborted, deterministically: the test
holds a read-write transaction of its own open on the emulator, which runs with
``--abort_current_transaction_probability=0`` (a new transaction never wins against the
current one: it is always aborted, "The emulator only supports one transaction at a time").
Once the emulator's log shows the request's statement answered ABORTED, the test rolls its
transaction back, and the client's retry of the aborted transaction (after a backoff of about
2 s) goes through. So each such write is aborted at least once and then succeeds, each note is
written exactly once, and nothing leaks: ``in_use`` is 0 and every session is deleted after
stop. Reads run beside the blocked writes and are not aborted (they are read-only).

This replaced random fault injection (``--enable_fault_injection`` with a 20% abort
probability): with it, four aborts in a row (the client's backoff of 2+4+8+16 s passes its
30 s deadline) made a 500 by chance. Here the only condition is that the test notices the
abort and rolls back within the retry window (2, then 4 and 8 s more): a no-hang bound.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from google.cloud.spanner_v1.session import Session

from example_site.schema import SCHEMA as EXAMPLE_SCHEMA
from spanner_pools.emulator import Emulator
from tests.conftest import INSTANCE
from tests.e2e import GunicornServer, Response, hammer, request, writes

from .harness import Admin, example_server, failures, tail, worker_stats

pytestmark = pytest.mark.e2e

WORKERS = 2
POOL_SIZE = 2
ABORTED_WRITES = 5  # each aborted at least once, on purpose
PLAIN_WRITES = 20  # one at a time, never aborted
READS = 8  # per aborted write, while it waits for its retry
ABORT_FLAGS = ["--abort_current_transaction_probability=0"]
ABORTED = "Error: ABORTED"
NO_HANG = 60.0


@pytest.fixture(scope="module")
def aborting_emulator() -> Iterator[Emulator]:
    with Emulator(log_requests=True, extra_args=ABORT_FLAGS) as emulator:
        yield emulator


def _wait_for_abort(emulator: Emulator, since: int) -> None:
    """Until the emulator's log shows an ABORTED answer after ``since`` (bounded)."""
    deadline = time.monotonic() + NO_HANG
    while ABORTED not in emulator._log_since(since):
        assert time.monotonic() < deadline, "the write was never aborted"
        time.sleep(0.02)


def _post(port: int, body: str, into: list[Response]) -> None:
    into.append(request(port, "POST", "/notes", {"body": body}, NO_HANG))


def test_aborted_transactions_are_retried_and_nothing_leaks(
    aborting_emulator: Emulator,
    servers: Callable[[GunicornServer], GunicornServer],
    figures: dict[str, Any],
) -> None:
    emulator = aborting_emulator
    admin = Admin(emulator.host)
    database = admin.create_database(EXAMPLE_SCHEMA, prefix="abort")
    server = servers(
        example_server(
            emulator.host,
            database,
            settings={"POOL_SIZE": POOL_SIZE, "POOL_TIMEOUT": 30},
            workers=WORKERS,
            threads=2,
        )
    )
    server.start(ready_path="/health")
    # A session of its own, not the multiplexed one: it is deleted at the end.
    blocker = Session(admin.client.instance(INSTANCE).database(database))
    blocker.create()
    start = emulator.log_offset()
    aborted: list[Response] = []
    reads: list[Response] = []
    try:
        for i in range(ABORTED_WRITES):
            txn = blocker.transaction()
            txn.execute_update("UPDATE notes SET body = body WHERE id = 'blocker'")
            offset = emulator.log_offset()
            answer: list[Response] = []
            writer = threading.Thread(target=_post, args=(server.port, f"aborted {i}", answer))
            writer.start()
            _wait_for_abort(emulator, offset)
            reads += hammer(server.port, [("GET", "/notes", None)] * READS, concurrency=2)
            txn.rollback()
            writer.join(NO_HANG)
            assert answer, "the aborted write did not answer"
            aborted += answer
    finally:
        blocker.delete()
        blocker._database.spanner_api.transport.close()
    plain = hammer(
        server.port,
        [("POST", "/notes", {"body": f"plain {i}"}) for i in range(PLAIN_WRITES)],
        concurrency=2,
        one_at_a_time=writes,
    )
    log = emulator._log_since(start)
    stats = worker_stats(server.port, WORKERS)
    code = server.stop()
    left = len(admin.session_names(database))
    rows = admin.count_rows(database)
    admin.close()
    failed = failures([*aborted, *reads, *plain])
    figures.update(
        requests=len(aborted) + len(reads) + len(plain),
        aborted_writes=ABORTED_WRITES,
        aborts_seen=log.count(ABORTED),
        failures=len(failed),
        in_use=[s["in_use"] for s in stats.values()],
        notes_written=rows,
        sessions_left_after_stop=left,
    )
    assert failed == [], f"{len(failed)} failed: {failed[:3]}\n{tail(server)}"
    assert log.count(ABORTED) >= ABORTED_WRITES, log[-3000:]  # every blocked write was aborted
    assert rows == ABORTED_WRITES + PLAIN_WRITES  # each note exactly once
    assert all(s["in_use"] == 0 and s["sessions"] == POOL_SIZE for s in stats.values()), stats
    assert code == 0, tail(server)
    assert left == 0, tail(server)

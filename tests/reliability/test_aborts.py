"""Scenario 7: transaction aborts.

An emulator of this module's own aborts transactions on purpose: ``--enable_fault_injection``
(it aborts commits at random) and ``--abort_current_transaction_probability=20`` (the
flag takes a percentage, 0-100: a running transaction is aborted in favour of a new one one
time in five; 20 is also the emulator's default). Read-write requests still succeed through
the client's retry of aborted transactions, each note is written exactly once, and nothing
leaks: ``in_use`` is 0 and every session is deleted after stop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from example_site.schema import SCHEMA as EXAMPLE_SCHEMA
from spanner_pools.emulator import Emulator
from tests.e2e import GunicornServer, hammer

from .harness import Admin, example_server, failures, tail, worker_stats

pytestmark = pytest.mark.e2e

WORKERS = 2
POOL_SIZE = 2
WRITES = 120
READS = 40
CONCURRENCY = 4
ABORT_FLAGS = ["--enable_fault_injection", "--abort_current_transaction_probability=20"]


@pytest.fixture(scope="module")
def aborting_emulator() -> Iterator[Emulator]:
    with Emulator(log_requests=True, extra_args=ABORT_FLAGS) as emulator:
        yield emulator


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
    calls: list[tuple[str, str, Any]] = []
    for i in range(WRITES):
        calls.append(("POST", "/notes", {"body": f"note {i}"}))
        if i % 3 == 0:
            calls.append(("GET", "/notes", None))
    offset = emulator.log_offset()
    responses = hammer(server.port, calls, CONCURRENCY)
    rpcs = emulator.requests(offset)
    stats = worker_stats(server.port, WORKERS)
    code = server.stop()
    left = len(admin.session_names(database))
    rows = admin.count_rows(database)
    admin.close()
    failed = failures(responses)
    figures.update(
        requests=len(calls),
        read_write_transactions=WRITES,
        failures=len(failed),
        commits=rpcs["Spanner.Commit"],
        dml_statements=rpcs["Spanner.ExecuteSql"],
        aborted_and_retried=rpcs["Spanner.ExecuteSql"] - WRITES,
        in_use=[s["in_use"] for s in stats.values()],
        notes_written=rows,
        sessions_left_after_stop=left,
    )
    assert failed == [], f"{len(failed)} failed: {failed[:3]}\n{tail(server)}"
    assert rpcs["Spanner.ExecuteSql"] > WRITES, rpcs  # some transactions were aborted
    assert rows == WRITES  # each note exactly once
    assert all(s["in_use"] == 0 and s["sessions"] == POOL_SIZE for s in stats.values()), stats
    assert code == 0, tail(server)
    assert left == 0, tail(server)

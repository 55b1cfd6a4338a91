"""Scenario 3: the emulator goes away while the site serves, then comes back on the same port.

During the outage every request is answered with a clear 503 and ``Retry-After`` well within
POOL_TIMEOUT + RPC_TIMEOUT (a no-hang bound, not a speed test); the pinger threads stay
alive and log their errors. After the emulator is back (with its instance, database and
schema recreated: it keeps data in memory) the site recovers on its own, without a restart,
and leaves no session behind when it stops.

Each test owns its emulator: it stops and restarts it.

A restarted emulator numbers sessions from 0 again (real Spanner never reuses a session
ID). Then one worker's lost session ID can be handed to another worker; the first worker's
ping of its lost session succeeds (the ID exists again), and two workers lend the same
session to concurrent requests ("404 Transaction not found"), unless the pool checks its
sessions after an outage: it does, with GetSession, comparing each session's create_time.
The ``fresh_ids`` variant makes the restarted emulator skip the old IDs (``burn_ids``) and
checks the recovery itself; ``reused_ids`` leaves them and checks that no session ends up
shared.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from example_site.schema import SCHEMA as EXAMPLE_SCHEMA
from spanner_pools.emulator import Emulator, provision
from tests.conftest import INSTANCE, PROJECT
from tests.e2e import GunicornServer, Response, hammer, writes

from .harness import (
    Admin,
    example_server,
    failures,
    sessions_by_worker,
    shared_sessions,
    tail,
    worker_stats,
)

pytestmark = pytest.mark.e2e

WORKERS = 2
POOL_SIZE = 2
POOL_TIMEOUT = 2.0
RPC_TIMEOUT = 3.0
PING_INTERVAL = 1.0
#: No-hang bound of one response during the outage: generous slack for a loaded machine.
NO_HANG = POOL_TIMEOUT + RPC_TIMEOUT + 10.0
#: The outage lasts OUTAGE_ROUNDS rounds of 8 requests, 0.5 s apart (several ping cycles).
OUTAGE_ROUNDS = 6
AFTER_REQUESTS = 100
#: Recovery (a round of 8 concurrent reads all answered 200, so every worker is back) is
#: polled every POLL_EVERY seconds, at most RECOVERY_POLLS times (a bound, 30 s).
POLL_EVERY = 0.25
RECOVERY_POLLS = 120
#: Session IDs the restarted emulator skips: more than the first process ever handed out.
BURN_IDS = 200


@pytest.fixture
def own_emulator() -> Iterator[Emulator]:
    """A fresh emulator for one test (it numbers sessions from 0); a restart keeps its port."""
    with Emulator() as emulator:
        yield emulator


def calls(count: int, tag: str) -> list[tuple[str, str, Any]]:
    return [
        ("POST", "/notes", {"body": f"{tag} {i}"}) if i % 4 == 0 else ("GET", "/notes", None)
        for i in range(count)
    ]


@pytest.mark.parametrize(
    "burn_ids",
    [
        pytest.param(True, id="fresh_ids"),
        pytest.param(False, id="reused_ids"),
    ],
)
def test_emulator_outage_fails_fast_and_recovers(
    burn_ids: bool,
    own_emulator: Emulator,
    servers: Callable[[GunicornServer], GunicornServer],
    figures: dict[str, Any],
) -> None:
    emulator = own_emulator
    admin = Admin(emulator.host)
    database = admin.create_database(EXAMPLE_SCHEMA, prefix="out")
    server = servers(
        example_server(
            emulator.host,
            database,
            settings={
                "POOL_SIZE": POOL_SIZE,
                "POOL_TIMEOUT": POOL_TIMEOUT,
                "RPC_TIMEOUT": RPC_TIMEOUT,
                "PING_INTERVAL": PING_INTERVAL,
            },
            workers=WORKERS,
            threads=2,
        )
    )
    server.start(ready_path="/health")
    before = hammer(server.port, calls(20, "before"), concurrency=4, one_at_a_time=writes)
    assert failures(before) == [], tail(server)
    for _ in range(40):  # both workers have opened their pools (bounded)
        opened = worker_stats(server.port, WORKERS)
        if all(s["sessions"] == POOL_SIZE for s in opened.values()):
            break
        time.sleep(POLL_EVERY)

    # -- outage --------------------------------------------------------------------------
    emulator.stop()
    admin.close()
    during: list[Response] = []
    for round_ in range(OUTAGE_ROUNDS):
        during += hammer(
            server.port, calls(8, f"during{round_}"), concurrency=4, one_at_a_time=writes
        )
        time.sleep(0.5)
    statuses = sorted({r.status for r in during})
    slowest = max(r.seconds for r in during)
    unclear = [
        f"{r.status} {r.headers.get('retry-after')!r}: {r.body[:200]!r}"
        for r in during
        if r.status != 503 or not r.headers.get("retry-after")
    ]
    stats_down = worker_stats(server.port, WORKERS)
    outage_log = server.log()

    # -- back on the same port, recreated ---------------------------------------------------
    emulator.start()  # the same port
    admin = Admin(emulator.host)
    if burn_ids:
        admin.burn_session_ids(BURN_IDS)
    provision(
        emulator.host, project=PROJECT, instance=INSTANCE, database=database, ddl=EXAMPLE_SCHEMA
    )
    polls, recovered = 0, False
    while polls < RECOVERY_POLLS and not recovered:  # about one ping cycle is expected
        polls += 1
        probe = hammer(server.port, [("GET", "/notes", None)] * 8, concurrency=8)
        recovered = failures(probe) == []  # every worker answers again
        if not recovered:
            time.sleep(POLL_EVERY)
    after = hammer(server.port, calls(AFTER_REQUESTS, "after"), concurrency=4, one_at_a_time=writes)
    stats_up = worker_stats(server.port, WORKERS)
    serving = len(admin.session_names(database))
    code = server.stop()
    left = len(admin.session_names(database))
    admin.close()
    shared = shared_sessions(sessions_by_worker(after))
    figures.update(
        outage_requests=len(during),
        outage_statuses=statuses,
        outage_slowest_response_s=round(slowest, 2),
        no_hang_bound_s=NO_HANG,
        ping_errors=sum(s["ping_errors"] for s in stats_down.values()),
        polls_until_recovered=polls,
        poll_every_s=POLL_EVERY,
        requests_after_recovery=AFTER_REQUESTS,
        failures_after_recovery=len(failures(after)),
        sessions_shared_by_workers_after_recovery=len(shared),
        sessions_on_server_after_recovery=serving,
        sessions_left_after_stop=left,
    )
    assert unclear == [], f"{len(unclear)} outage answers were not 503 + Retry-After: {unclear[:3]}"
    assert slowest <= NO_HANG, f"a response took {slowest:.1f}s during the outage"
    assert all(s["pinger_alive"] for s in stats_down.values()), stats_down
    assert all(s["ping_errors"] > 0 for s in stats_down.values()), stats_down
    assert "pinger pass failed" in outage_log, outage_log[-4000:]
    assert recovered, f"no 200 after the emulator came back\n{tail(server)}"
    assert failures(after) == [], f"{failures(after)[:3]}\n{tail(server)}"
    assert shared == set(), f"workers shared sessions after the restart: {shared}"
    assert all(s["pinger_alive"] and s["in_use"] == 0 for s in stats_up.values()), stats_up
    assert serving == WORKERS * POOL_SIZE, serving
    assert code == 0, tail(server)
    assert left == 0, tail(server)

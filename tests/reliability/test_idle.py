"""Scenario 9: long idle with a short PING_INTERVAL.

After the site has idled for several ping intervals, its sessions are the same ones (none
went stale, none was re-created), and the requests that follow pay no session RPC: the
emulator's request log shows only the requests' own ExecuteStreamingSql / ExecuteSql /
Commit (and the pingers' ``SELECT 1``), no CreateSession, BatchCreateSessions, GetSession or
DeleteSession.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from spanner_pools.emulator import Emulator
from tests.e2e import GunicornServer, hammer, writes

from .harness import SESSION_RPCS, Admin, failures, tail, worker_stats

pytestmark = pytest.mark.e2e

WORKERS = 2
POOL_SIZE = 2
PING_INTERVAL = 1.0
IDLE = 5.0  # seconds: several ping intervals (a wait, not a bound)
READS = 30
WRITES = 10


def test_idle_pools_stay_fresh_and_requests_pay_no_session_rpc(
    emulator: Emulator,
    admin: Admin,
    example_db: str,
    example_site: Callable[..., GunicornServer],
    figures: dict[str, Any],
) -> None:
    server = example_site(
        settings={"POOL_SIZE": POOL_SIZE, "PING_INTERVAL": PING_INTERVAL},
        workers=WORKERS,
    )
    warm = hammer(server.port, [("GET", "/notes", None)] * 20, concurrency=4)
    assert failures(warm) == [], tail(server)
    for _ in range(40):  # both workers have opened their pools (bounded)
        if len(admin.session_names(example_db)) == WORKERS * POOL_SIZE:
            break
        time.sleep(0.25)
    before = set(admin.session_names(example_db))
    pings_before = sum(s["pings"] for s in worker_stats(server.port, WORKERS).values())

    time.sleep(IDLE)

    after_idle = set(admin.session_names(example_db))
    offset = emulator.log_offset()
    calls: list[tuple[str, str, Any]] = [
        ("POST", "/notes", {"body": f"n{i}"}) for i in range(WRITES)
    ]
    calls += [("GET", "/notes", None)] * READS
    responses = hammer(server.port, calls, concurrency=4, one_at_a_time=writes)
    rpcs = emulator.requests(offset)
    stats = worker_stats(server.port, WORKERS)
    code = server.stop()
    left = len(admin.session_names(example_db))
    session_rpcs = {name: count for name, count in rpcs.items() if name in SESSION_RPCS}
    pings_idle = sum(s["pings"] for s in stats.values()) - pings_before
    figures.update(
        idle_s=IDLE,
        ping_interval_s=PING_INTERVAL,
        pings_while_idle=pings_idle,
        requests=len(calls),
        failures=len(failures(responses)),
        rpcs_during_requests=dict(rpcs),
        session_rpcs_during_requests=sum(session_rpcs.values()),
        sessions_replaced=sum(s["sessions_replaced"] for s in stats.values()),
        sessions_unchanged_after_idle=before == after_idle,
        sessions_left_after_stop=left,
    )
    assert failures(responses) == [], tail(server)
    assert len(before) == WORKERS * POOL_SIZE, before
    assert after_idle == before, "sessions changed while idle"
    assert pings_idle >= WORKERS * POOL_SIZE, stats  # the pingers kept them warm
    assert session_rpcs == {}, rpcs
    assert rpcs["Spanner.ExecuteStreamingSql"] == READS, rpcs
    assert rpcs["Spanner.Commit"] >= WRITES, rpcs  # more if a commit was aborted and retried
    assert all(s["sessions_replaced"] == 0 and s["ping_errors"] == 0 for s in stats.values()), stats
    assert code == 0, tail(server)
    assert left == 0, tail(server)

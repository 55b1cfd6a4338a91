"""Scenario 5: pool exhaustion.

POOL_SIZE=2 per worker, 4 threads per worker, 8 concurrent clients on a view that holds its
session for a while: the surplus requests get ``503`` with ``Retry-After`` once POOL_TIMEOUT
has passed (no hang: each answer arrives within POOL_TIMEOUT plus generous slack). After 1000
such requests every worker has all its sessions back (``in_use`` 0) and still serves.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e import GunicornServer, hammer

from .harness import Admin, failures, tail, worker_stats

pytestmark = pytest.mark.e2e

WORKERS = 2
THREADS = 4
POOL_SIZE = 2
POOL_TIMEOUT = 0.05
HOLD = 0.1  # seconds the view keeps its session: longer than POOL_TIMEOUT
REQUESTS = 1000
CONCURRENCY = 8
#: No-hang bound of one answer: POOL_TIMEOUT + the hold + generous slack for a loaded machine.
NO_HANG = POOL_TIMEOUT + HOLD + 10.0


def test_exhausted_pool_answers_503_and_recovers(
    admin: Admin,
    probe_db: str,
    probe_site: Callable[..., GunicornServer],
    figures: dict[str, Any],
) -> None:
    server = probe_site(
        settings={"POOL_SIZE": POOL_SIZE, "POOL_TIMEOUT": POOL_TIMEOUT},
        workers=WORKERS,
        threads=THREADS,
    )
    responses = hammer(server.port, [("GET", f"/slow?sleep={HOLD}", None)] * REQUESTS, CONCURRENCY)
    statuses = Counter(r.status for r in responses)
    slowest = max(r.seconds for r in responses)
    bad_503 = [r.headers for r in responses if r.status == 503 and not r.headers.get("retry-after")]
    stats = worker_stats(server.port, WORKERS)
    after = hammer(server.port, [("GET", "/slow?sleep=0", None)] * 20, concurrency=2)
    serving = len(admin.session_names(probe_db))
    code = server.stop()
    left = len(admin.session_names(probe_db))
    figures.update(
        requests=REQUESTS,
        concurrency=CONCURRENCY,
        ok=statuses[200],
        answered_503=statuses[503],
        other_failures=len(failures(responses, ok=(200, 503))),
        slowest_answer_s=round(slowest, 2),
        no_hang_bound_s=NO_HANG,
        pool_timeouts=sum(s["timeouts"] for s in stats.values()),
        in_use_after=[s["in_use"] for s in stats.values()],
        failures_after=len(failures(after)),
        sessions_on_server_while_serving=serving,
        sessions_left_after_stop=left,
    )
    assert failures(responses, ok=(200, 503)) == [], tail(server)
    assert statuses[503] > 0 and statuses[200] > 0, statuses  # it was exhausted, and served
    assert bad_503 == [], bad_503[:3]
    assert slowest <= NO_HANG, f"an answer took {slowest:.1f}s"
    assert all(s["in_use"] == 0 and s["sessions"] == POOL_SIZE for s in stats.values()), stats
    assert all(s["max_in_use"] == POOL_SIZE for s in stats.values()), stats
    assert sum(s["timeouts"] for s in stats.values()) == statuses[503], stats
    assert failures(after) == [], tail(server)
    assert serving == WORKERS * POOL_SIZE
    assert code == 0, tail(server)
    assert left == 0, tail(server)

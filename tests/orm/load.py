"""The preload load run shared by the ORM tests: writes and reads through an ORM app under
``gunicorn --preload -w 3 --threads 2``, with each worker's threads and RSS read from /proc.

Bounded: a fixed number of requests at a fixed, small concurrency (the emulator runs one
read-write transaction at a time and aborts the others; the DB-API retries them).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.e2e import GunicornServer, Response, hammer
from tests.reliability.harness import Admin, failures, tail

WORKERS = 3
THREADS = 2
POOL_SIZE = 2
REQUESTS = 1000
WRITE_EVERY = 3  # one request in three writes a row: 334 writes
CONCURRENCY = 4
WARMUP = 60  # requests before the first /proc sample (every worker has served by then)


def proc_figures(pid: int) -> dict[str, int]:
    """Threads and resident set size (kB) of a live process, from /proc/<pid>/status."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("Threads", "VmRSS"):
            values[key] = int(rest.split()[0])
    return values


def worker_stats(port: int, workers: int, path: str, rounds: int = 20) -> dict[int, dict[str, Any]]:
    """``GET path`` (a pool's stats) until ``workers`` distinct workers answered; PID -> stats."""
    found: dict[int, dict[str, Any]] = {}
    for _ in range(rounds):
        for response in hammer(port, [("GET", path, None)] * 16, concurrency=8):
            assert response.status == 200, response.body[:500]
            stats = response.json()
            found[int(stats["pid"])] = stats
        if len(found) >= workers:
            return found
    raise AssertionError(f"only workers {sorted(found)} answered {path} in {rounds} rounds")


def run_load(
    server: GunicornServer,
    admin: Admin,
    database: str,
    figures: dict[str, Any],
    *,
    write: tuple[str, str],
    read: tuple[str, str],
    count_sql: str = "SELECT COUNT(*) FROM notes",
    stats_path: str = "/stats",
    health_path: str = "/health",
) -> dict[int, Mapping[str, Any]]:
    """Serve the load, stop the server, check everything, record figures; returns stats."""
    server.start(ready_path=health_path)
    calls = [
        (write[0], write[1], {"body": f"note {i}"})
        if i % WRITE_EVERY == 0
        else (read[0], read[1], None)
        for i in range(REQUESTS)
    ]
    responses: list[Response] = hammer(server.port, calls[:WARMUP], CONCURRENCY, timeout=60)
    workers = worker_stats(server.port, WORKERS, path=stats_path)
    before = {pid: proc_figures(pid) for pid in workers}
    responses += hammer(server.port, calls[WARMUP:], CONCURRENCY, timeout=60)
    stats = worker_stats(server.port, WORKERS, path=stats_path)
    after = {pid: proc_figures(pid) for pid in workers}
    serving = len(admin.session_names(database))
    code = server.stop()
    left = len(admin.session_names(database))
    failed = failures(responses)
    writes = sum(1 for method, _, _ in calls if method == write[0])
    figures.update(
        requests=REQUESTS,
        writes=writes,
        concurrency=CONCURRENCY,
        failures=len(failed),
        threads={pid: (before[pid]["Threads"], after[pid]["Threads"]) for pid in workers},
        rss_mb={
            pid: (round(before[pid]["VmRSS"] / 1024), round(after[pid]["VmRSS"] / 1024))
            for pid in workers
        },
        sessions_while_serving=serving,
        sessions_left_after_stop=left,
    )
    assert failed == [], f"{len(failed)} of {REQUESTS} failed: {failed[:3]}\n{tail(server)}"
    assert admin.count_rows(database, count_sql) == writes  # every write landed exactly once
    assert set(stats) == set(workers), (stats.keys(), workers.keys())  # no worker restarted
    for pid in workers:
        assert after[pid]["Threads"] <= before[pid]["Threads"] + 3, figures["threads"]
        assert after[pid]["VmRSS"] - before[pid]["VmRSS"] < 30 * 1024, figures["rss_mb"]
    assert all(s["in_use"] == 0 for s in stats.values()), stats
    # Every ORM request borrowed its session through the worker's manager.
    assert sum(s["checkouts"] for s in stats.values()) >= REQUESTS, stats
    assert code == 0, tail(server)
    assert left == 0, tail(server)
    assert "Traceback" not in server.log(), tail(server)
    return stats

"""A small closed-loop HTTP load generator: N threads, each with a keep-alive connection.

Each thread sends its next request as soon as the previous answer is read (reconnecting
when the server closes the connection, as gunicorn's sync workers do). Latency is measured
per request with ``perf_counter``.
"""

from __future__ import annotations

import http.client
import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

#: ``(method, path, body)`` for the i-th request of a thread.
RequestMaker = Callable[[int], tuple[str, str, bytes | None]]


@dataclass
class LoadResult:
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile latency in seconds (nearest rank)."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
        return ordered[index]

    def merge(self, other: LoadResult) -> LoadResult:
        return LoadResult(
            self.seconds + other.seconds,
            self.latencies + other.latencies,
            self.statuses + other.statuses,
            self.errors + other.errors,
        )


def run_load(
    port: int,
    make_request: RequestMaker,
    *,
    concurrency: int,
    duration: float | None = None,
    requests: int | None = None,
    timeout: float = 30.0,
) -> LoadResult:
    """Closed-loop load on 127.0.0.1:port for ``duration`` seconds or ``requests`` requests
    in all (whichever ends first; at least one of them must be given)."""
    if duration is None and requests is None:
        raise ValueError("run_load() needs duration= or requests=")
    result = LoadResult()
    lock = threading.Lock()
    start_gate = threading.Barrier(concurrency + 1)
    stop_at = [0.0]
    tickets = itertools.count()
    budget = requests if requests is not None else float("inf")

    def worker() -> None:
        latencies: list[float] = []
        statuses: Counter[int] = Counter()
        errors = 0
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        start_gate.wait()
        i = 0
        while time.perf_counter() < stop_at[0] and next(tickets) < budget:
            method, path, body = make_request(i)
            i += 1
            headers = {"Content-Type": "application/json"} if body is not None else {}
            begin = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException):
                errors += 1
                conn.close()
                continue
            latencies.append(time.perf_counter() - begin)
            statuses[response.status] += 1
        conn.close()
        with lock:
            result.latencies.extend(latencies)
            result.statuses.update(statuses)
            result.errors += errors

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    stop_at[0] = began + (duration if duration is not None else float("inf"))
    start_gate.wait()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - began
    return result

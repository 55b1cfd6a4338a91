"""Checkout wait: how long a request waits for a session when there are twice as many
threads as sessions.

In-process, per ``POOL`` mode at the default settings (``POOL_SIZE`` 10, ``POOL_TIMEOUT``
5 s): 20 threads each check out a session (``manager.handle()``, first use), hold it for
``--hold`` ms without an RPC (the rest of a request's work), return it, and repeat. The wait
is the time from asking to holding; ``PoolExhausted`` counts the checkouts that got no
session within ``POOL_TIMEOUT``. With a first-come-first-served pool the p99 stays near
(threads / sessions) x hold; an unfair one lets a waiter starve while others cycle.

Run: ``.venv/bin/python -m bench.checkout_wait`` (about 1 minute).
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import uuid

from example_site.schema import SCHEMA
from spanner_pools import POOL_MODES, PoolExhausted, PoolManager
from spanner_pools.emulator import provision

from ._common import (
    INSTANCE,
    PROJECT,
    pool_settings,
    publish,
    running_emulator,
)

THREADS = 20
CHECKOUTS = 150  # per thread


def measure(host: str, database: str, mode: str, hold: float) -> tuple[list[float], int, float]:
    """Waits (s) of every successful checkout, the PoolExhausted count, and the wall time."""
    manager = PoolManager(pool_settings(host, database, mode))
    manager.open()
    waits: list[float] = []
    exhausted = 0
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def worker() -> None:
        nonlocal exhausted
        mine: list[float] = []
        misses = 0
        start.wait()
        for _ in range(CHECKOUTS):
            asked = time.perf_counter()
            try:
                with manager.handle() as handle:
                    handle.session  # noqa: B018 - the checkout itself
                    mine.append(time.perf_counter() - asked)
                    time.sleep(hold)
            except PoolExhausted:
                misses += 1
        with lock:
            waits.extend(mine)
            exhausted += misses

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    manager.close()
    return waits, exhausted, wall


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.checkout_wait", description=__doc__)
    parser.add_argument("--hold", type=float, default=5.0, help="ms each checkout is held")
    parser.add_argument("--modes", nargs="*", default=list(POOL_MODES), choices=POOL_MODES)
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args(argv)

    rows = []
    with running_emulator() as emulator:
        for mode in args.modes:
            database = "wait" + uuid.uuid4().hex[:10]
            provision(
                emulator.host, project=PROJECT, instance=INSTANCE, database=database, ddl=SCHEMA
            )
            waits, exhausted, wall = measure(emulator.host, database, mode, args.hold / 1000)
            waits.sort()
            cuts = statistics.quantiles(waits, n=100) if len(waits) > 1 else [0.0] * 99
            row = [
                f"`{mode}`",
                len(waits) + exhausted,
                _ms(cuts[49]),
                _ms(cuts[98]),
                _ms(waits[-1]) if waits else "-",
                sum(1 for w in waits if w > 10 * args.hold / 1000),
                exhausted,
                f"{wall:.1f}",
            ]
            rows.append(row)
            print(" ".join(map(str, row)), flush=True)
    headers = [
        "POOL (POOL_SIZE 10)",
        "checkouts",
        "wait p50 (ms)",
        "wait p99 (ms)",
        "wait max (ms)",
        f"waits > {10 * args.hold:g} ms",
        "PoolExhausted",
        "wall (s)",
    ]
    intro = (
        f"{THREADS} threads, each checking out a session {CHECKOUTS} times and holding it "
        f"{args.hold:g} ms without an RPC; default settings (`POOL_SIZE` 10, `POOL_TIMEOUT` "
        "5 s) but `POOL`. Wait = from `manager.handle()` to holding the session (first use). "
        "`bursty` makes a `GetSession` at every checkout; `multiplexed` lends its one "
        "session to everyone. A fair pool makes every thread wait about one hold; a wait of "
        "many holds means the waiter was passed over while others checked out again."
    )
    title = "Checkout wait, twice as many threads as sessions"
    publish("checkout-wait", title, headers, rows, intro=intro, write=not args.no_write)


if __name__ == "__main__":
    main()

"""RPCs and latency per request of the ORMs, at their default setup and through spanner-pools.

One process, one emulator, one database per setup (RPCs are counted per database, so the
setups can run interleaved: the emulator slows down with every query served, and round-robin
spreads that over all of them). For each setup a "read" (ten rows) and a "write" (insert one
row in a transaction) request: the first request after setup, then the steady state (RPCs
per request by method, median and p99 latency over ``--requests`` requests).

Setups: SQLAlchemy (sqlalchemy-spanner URL, QueuePool and NullPool) and Django
(django-google-spanner, CONN_MAX_AGE 0 and None) as documented upstream;
``spanner_pools.sqlalchemy.create_engine`` and ``"ENGINE": "django_app.db"``; the library's
own handle in each ``POOL`` mode; and the client's multiplexed default without the library
(``Database.snapshot()`` / ``run_in_transaction()``). A "request" of a Django setup ends with
``close_old_connections()``, what Django's ``request_finished`` signal does.
Run: ``.venv/bin/python -m bench.orm``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from collections import Counter

from spanner_pools.emulator import Emulator

from ._common import (
    PING,
    PROJECT,
    SESSION_METHODS,
    count_rpcs,
    publish,
    running_emulator,
)
from ._orm_setups import KINDS, POOL_SIZE, Setup, build_setups


def _settle() -> None:
    time.sleep(0.15)  # let the emulator's log catch up with the last response


def _num(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.2f}"


def _fmt(counts: Counter[str], per: int = 1) -> str:
    own = {k: v for k, v in counts.items() if k != PING and v}
    if not own:
        return "0"
    parts = ", ".join(f"{k.split('.', 1)[1]} {_num(v / per)}" for k, v in sorted(own.items()))
    return f"{_num(sum(own.values()) / per)} ({parts})"


def _session(counts: Counter[str], per: int = 1) -> str:
    return _num(sum(v for k, v in counts.items() if k in SESSION_METHODS) / per)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def measure(emulator: Emulator, setups: list[Setup], requests: int) -> list[list[str]]:
    """First request of each kind per setup (one after the other), then ``requests`` steady
    rounds over every setup in turn, RPCs counted per setup's database."""
    first: dict[tuple[int, str], tuple[Counter[str], float]] = {}
    for n, setup in enumerate(setups):
        setup.start()
        _settle()
        for kind in KINDS:
            offset = emulator.log_offset()
            start = time.perf_counter()
            getattr(setup, kind)()
            elapsed = time.perf_counter() - start
            _settle()
            first[n, kind] = (count_rpcs(emulator.log_path, offset, setup.database), elapsed)
    rows = []
    for kind in KINDS:
        offset = emulator.log_offset()
        times: dict[int, list[float]] = {n: [] for n in range(len(setups))}
        threads_left = Counter[int]()
        for _ in range(requests):
            for n, setup in enumerate(setups):
                threads = threading.active_count()
                start = time.perf_counter()
                getattr(setup, kind)()
                times[n].append(time.perf_counter() - start)
                threads_left[n] += threading.active_count() - threads
        _settle()
        for n, setup in enumerate(setups):
            counts = count_rpcs(emulator.log_path, offset, setup.database)
            counts.pop(PING, None)  # background pings, not the request's work
            samples = sorted(times[n])
            p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
            first_counts, first_time = first[n, kind]
            rows.append(
                [
                    setup.label,
                    kind,
                    _fmt(first_counts),
                    _ms(first_time),
                    _fmt(counts, requests),
                    _session(counts, requests),
                    _ms(statistics.median(samples)),
                    _ms(p99),
                    str(threads_left[n]),
                ]
            )
    order = {setup.label: n for n, setup in enumerate(setups)}
    rows.sort(key=lambda row: (order[row[0]], KINDS.index(row[1])))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100, help="steady-state requests per kind")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args()
    headers = [
        "Setup",
        "Request",
        "First request: RPCs",
        "First (ms)",
        "Steady state: RPCs per request",
        "Session RPCs",
        "Median (ms)",
        "p99 (ms)",
        "Threads left",
    ]
    os.environ["SPANNER_DISABLE_BUILTIN_METRICS"] = "true"
    with running_emulator(log_requests=True) as emulator:
        # The upstream setups find the emulator the documented way.
        os.environ["SPANNER_EMULATOR_HOST"] = emulator.host
        os.environ["GOOGLE_CLOUD_PROJECT"] = PROJECT
        setups = build_setups(emulator)
        try:
            rows = measure(emulator, setups, args.requests)
        finally:
            for setup in setups:
                setup.close()
    intro = (
        f"RPCs per request (counted per database in the emulator's `--log_requests` output) "
        f"and latency, one process, POOL_SIZE {POOL_SIZE}. 'First request' is the first of "
        "its kind after setup (the library's pools opened first, as the worker hook does); "
        f"steady state is {args.requests} requests of each kind, every setup in turn. A read "
        "is ten rows through the ORM (`session.scalars(select(Note).limit(10))`, "
        "`Note.objects.all()[:10]`), a write inserts one row in a transaction; a Django "
        "request ends with `close_old_connections()`. 'Threads left': how many more threads "
        "the process had after that row's steady-state requests than before them. Latencies are the emulator's on this "
        "shared machine: compare rows, do not read them as Cloud Spanner figures."
    )
    title = "ORMs: RPCs and latency per request"
    publish("orm", title, headers, rows, intro=intro, write=not args.no_write)


if __name__ == "__main__":
    main()

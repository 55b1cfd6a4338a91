"""RPCs per request, counted in the emulator's request log, for every pool mode and two baselines.

Three kinds of request (a read, a DML read-write transaction, a mutation-only batch), each
measured three ways: the first request after the pool was built, in steady state (the mean
over ``--requests`` requests), and the first request after the pool sat idle longer than
``PING_INTERVAL``. Pings are told apart from the requests' own RPCs by their text
(``SELECT 1`` outside a transaction) and reported as background work.

Baselines: the client's default (``instance.database(id)``, multiplexed sessions) and the
docs' recipe (a ``PingingPool`` plus ``threading.Thread(target=pool.ping)``, which pings once
and exits). Run: ``.venv/bin/python -m bench.rpcs_per_request``.
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from google.cloud.spanner_v1 import COMMIT_TIMESTAMP, param_types
from google.cloud.spanner_v1.pool import PingingPool

from example_site.schema import SCHEMA
from spanner_pools import POOL_MODES, PoolManager
from spanner_pools.emulator import Emulator, provision

from ._common import (
    INSTANCE,
    PING,
    PROJECT,
    SESSION_METHODS,
    count_rpcs,
    emulator_client,
    pool_settings,
    publish,
    running_emulator,
)

KINDS = ("read", "dml", "mutations")
KIND_LABELS = {"read": "read", "dml": "DML read-write", "mutations": "mutations only"}

READ = "SELECT id, body, created FROM notes ORDER BY created DESC LIMIT 10"
INSERT = "INSERT INTO notes (id, body, created) VALUES (@id, 'bench', PENDING_COMMIT_TIMESTAMP())"


def _dml(tx: Any) -> int:
    return int(
        tx.execute_update(
            INSERT, params={"id": uuid.uuid4().hex}, param_types={"id": param_types.STRING}
        )
    )


def _mutate(batch: Any) -> None:
    batch.insert(
        table="notes",
        columns=("id", "body", "created"),
        values=[(uuid.uuid4().hex, "bench", COMMIT_TIMESTAMP)],
    )


class Target:
    """One way of serving requests; ``run(kind)`` does one request of that kind."""

    label = ""

    def run(self, kind: str) -> None:
        getattr(self, kind)()

    def read(self) -> None:
        raise NotImplementedError

    def dml(self) -> None:
        raise NotImplementedError

    def mutations(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class Managed(Target):
    """spanner-pools: a ``PoolManager`` opened up front (as the worker hook does)."""

    def __init__(self, host: str, database: str, mode: str, size: int, interval: float) -> None:
        settings = pool_settings(host, database, mode, POOL_SIZE=size, PING_INTERVAL=interval)
        self.label = f"spanner-pools POOL={mode}"
        self.manager = PoolManager(settings)
        self.manager.open()

    def read(self) -> None:
        with self.manager.handle() as handle:
            handle.execute_sql(READ)

    def dml(self) -> None:
        with self.manager.handle() as handle:
            handle.run_in_transaction(_dml)

    def mutations(self) -> None:
        with self.manager.handle() as handle, handle.batch() as batch:
            _mutate(batch)

    def close(self) -> None:
        self.manager.close()


class ClientDefault(Target):
    """Baseline: ``instance.database(id)`` with no pool and the ``Database`` APIs."""

    label = "baseline: client default"

    def __init__(self, host: str, database: str) -> None:
        self.database = emulator_client(host).instance(INSTANCE).database(database)

    def read(self) -> None:
        with self.database.snapshot() as snapshot:
            list(snapshot.execute_sql(READ))

    def dml(self) -> None:
        self.database.run_in_transaction(_dml)

    def mutations(self) -> None:
        with self.database.batch() as batch:
            _mutate(batch)


class DocsRecipe(Target):
    """Baseline: the docs' ``PingingPool`` with ``Thread(target=pool.ping)`` started once."""

    label = "baseline: docs recipe (PingingPool)"

    def __init__(self, host: str, database: str, size: int, interval: float) -> None:
        self.pool = PingingPool(size=size, default_timeout=5, ping_interval=int(interval))
        self.database = emulator_client(host).instance(INSTANCE).database(database, pool=self.pool)
        threading.Thread(target=self.pool.ping, daemon=True).start()

    def _with_session(self, work: Callable[[Any], None]) -> None:
        session = self.pool.get()
        try:
            work(session)
        finally:
            self.pool.put(session)

    def read(self) -> None:
        def query(session: Any) -> None:
            list(session.snapshot().execute_sql(READ))

        self._with_session(query)

    def dml(self) -> None:
        def transaction(session: Any) -> None:
            session.run_in_transaction(_dml)

        self._with_session(transaction)

    def mutations(self) -> None:
        def commit(session: Any) -> None:
            with session.batch() as batch:
                _mutate(batch)

        self._with_session(commit)


def _settle() -> None:
    time.sleep(0.15)  # let the emulator's log catch up with the last response


def _fmt(counts: Counter[str], per: int = 1) -> str:
    """``2 (ExecuteSql 1, Commit 1)`` per request, pings left out."""
    own = {k: v for k, v in counts.items() if k != PING and v}
    total = sum(own.values()) / per
    if not own:
        return "0"
    parts = ", ".join(f"{k.split('.', 1)[1]} {_num(v / per)}" for k, v in sorted(own.items()))
    return f"{_num(total)} ({parts})"


def _num(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.2f}"


def _session_rpcs(counts: Counter[str], per: int = 1) -> str:
    return _num(sum(v for k, v in counts.items() if k in SESSION_METHODS) / per)


def _background(counts: Counter[str]) -> str:
    if not counts:
        return "none"
    return ", ".join(
        f"{'ping' if k == PING else k.split('.', 1)[1]} {v}" for k, v in sorted(counts.items())
    )


def measure(
    emulator: Emulator, build: Callable[[str, str], Target], args: argparse.Namespace
) -> list[list[str]]:
    """The rows of one target: one per request kind."""
    database = "rpc" + uuid.uuid4().hex[:10]
    provision(emulator.host, project=PROJECT, instance=INSTANCE, database=database, ddl=SCHEMA)
    before_build = emulator.log_offset()
    target = build(emulator.host, database)
    _settle()
    setup = count_rpcs(emulator.log_path, before_build)
    rows = []
    try:
        first: dict[str, Counter[str]] = {}
        for kind in KINDS:
            offset = emulator.log_offset()
            target.run(kind)
            _settle()
            first[kind] = count_rpcs(emulator.log_path, offset)
        steady: dict[str, Counter[str]] = {}
        for kind in KINDS:
            offset = emulator.log_offset()
            for _ in range(args.requests):
                target.run(kind)
            _settle()
            steady[kind] = count_rpcs(emulator.log_path, offset)
        idle: dict[str, Counter[str]] = {}
        background: dict[str, Counter[str]] = {}
        for kind in KINDS:
            offset = emulator.log_offset()
            time.sleep(args.idle)
            before = emulator.log_offset()
            target.run(kind)
            _settle()
            background[kind] = count_rpcs(emulator.log_path, offset) - count_rpcs(
                emulator.log_path, before
            )
            background[kind] += Counter({PING: count_rpcs(emulator.log_path, before)[PING]})
            idle[kind] = count_rpcs(emulator.log_path, before)
        for kind in KINDS:
            rows.append(
                [
                    target.label,
                    KIND_LABELS[kind],
                    _fmt(first[kind]),
                    _fmt(steady[kind], args.requests),
                    _session_rpcs(steady[kind], args.requests),
                    _fmt(idle[kind]),
                    _session_rpcs(idle[kind]),
                    _background(background[kind]),
                ]
            )
        print(f"{target.label}: setup RPCs {_background(setup)}")
    finally:
        target.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20, help="requests per steady-state mean")
    parser.add_argument("--interval", type=float, default=2.0, help="PING_INTERVAL (s)")
    parser.add_argument("--idle", type=float, default=5.0, help="idle time before a request (s)")
    parser.add_argument("--size", type=int, default=4, help="POOL_SIZE")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args()
    if args.idle <= args.interval:
        parser.error(f"--idle ({args.idle}) must be longer than --interval ({args.interval})")

    def managed(mode: str) -> Callable[[str, str], Target]:
        return lambda host, db: Managed(host, db, mode, args.size, args.interval)

    builders: list[Callable[[str, str], Target]] = [
        *(managed(mode) for mode in POOL_MODES),
        lambda host, db: ClientDefault(host, db),
        lambda host, db: DocsRecipe(host, db, args.size, args.interval),
    ]
    headers = [
        "Setup",
        "Request",
        "First request",
        "Steady state",
        "Session RPCs (steady)",
        f"After {args.idle:g} s idle",
        "Session RPCs (after idle)",
        "Background RPCs in the idle time",
    ]
    rows: list[list[str]] = []
    with running_emulator(log_requests=True) as emulator:
        for build in builders:
            rows += measure(emulator, build, args)
    intro = (
        f"RPCs per request, counted in the emulator's `--log_requests` output. POOL_SIZE "
        f"{args.size}, PING_INTERVAL {args.interval:g} s (the docs' recipe: "
        f"`ping_interval={int(args.interval)}`), steady state = mean of {args.requests} "
        f"requests, then each kind once after {args.idle:g} s idle. 'First request' is the "
        "first of its kind after the pool was built (`PoolManager.open()`, as the worker hook "
        "does; the baselines' `instance.database()`). Pings (`ExecuteSql` of `SELECT 1` "
        "outside a transaction) are background work, listed in the last column with the "
        "other RPCs made during the idle time."
    )
    publish("rpcs", "RPCs per request", headers, rows, intro=intro, write=not args.no_write)


if __name__ == "__main__":
    main()

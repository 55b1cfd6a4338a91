"""Idle cost: pings per hour per worker at the default settings, from a short-interval run.

Every pool mode (and the two baselines) sits idle side by side on one emulator with
``POOL_SIZE`` 10 and a short ``PING_INTERVAL``; the pings (``ExecuteSql`` of ``SELECT 1``)
in the emulator's request log are counted per database and scaled to the default
``PING_INTERVAL`` of 300 s and to one hour. Run: ``.venv/bin/python -m bench.idle_cost``.
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from collections import Counter
from typing import Any

from google.cloud.spanner_v1.pool import PingingPool

from example_site.schema import SCHEMA
from spanner_pools import POOL_MODES, PoolManager, SpannerSettings
from spanner_pools.emulator import provision

from ._common import (
    INSTANCE,
    PING,
    PROJECT,
    emulator_client,
    publish,
    read_rpcs,
    running_emulator,
)

DEFAULT_INTERVAL = 300.0
DEFAULT_SIZE = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--interval", type=float, default=2.0, help="short PING_INTERVAL (s)")
    parser.add_argument("--duration", type=float, default=60.0, help="idle time measured (s)")
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE, help="POOL_SIZE")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args()

    setups: list[tuple[str, str]] = []  # (label, database)
    closers: list[Any] = []
    with running_emulator(log_requests=True) as emulator:
        for label in [*POOL_MODES, "client default", "docs recipe"]:
            database = "idle" + uuid.uuid4().hex[:10]
            provision(
                emulator.host, project=PROJECT, instance=INSTANCE, database=database, ddl=SCHEMA
            )
            setups.append((label, database))
            if label in POOL_MODES:
                manager = PoolManager(
                    SpannerSettings.from_mapping(
                        {
                            "PROJECT": PROJECT,
                            "INSTANCE": INSTANCE,
                            "DATABASE": database,
                            "EMULATOR_HOST": emulator.host,
                            "POOL": label,
                            "POOL_SIZE": args.size,
                            "PING_INTERVAL": args.interval,
                        }
                    )
                )
                manager.open()
                with manager.handle() as handle:  # one request, as a worker would serve
                    handle.execute_sql("SELECT 1")
                closers.append(manager.close)
            elif label == "client default":
                db = emulator_client(emulator.host).instance(INSTANCE).database(database)
                with db.snapshot() as snapshot:
                    list(snapshot.execute_sql("SELECT 1"))
            else:
                pool = PingingPool(size=args.size, ping_interval=max(1, int(args.interval)))
                emulator_client(emulator.host).instance(INSTANCE).database(database, pool=pool)
                threading.Thread(target=pool.ping, daemon=True).start()
                session = pool.get()
                list(session.snapshot().execute_sql("SELECT 1"))
                pool.put(session)
        # Skip the first pings of fresh sessions (they are spread over the first interval).
        time.sleep(2 * args.interval)
        start = emulator.log_offset()
        print(f"idle for {args.duration:g} s with PING_INTERVAL={args.interval:g} s ...")
        time.sleep(args.duration)
        rpcs = read_rpcs(emulator.log_path, start)
        for close in closers:
            close()

    scale = (args.interval / DEFAULT_INTERVAL) * (3600.0 / args.duration)
    headers = [
        "Setup",
        f"Pings in {args.duration:g} s (interval {args.interval:g} s)",
        "Other RPCs",
        "Pings/hour/worker at PING_INTERVAL=300",
        "Pings/hour/session",
    ]
    rows = []
    for label, database in setups:
        counts = Counter(r.method for r in rpcs if r.database == database)
        pings = counts.pop(PING, 0)
        other = ", ".join(f"{k.split('.', 1)[1]} {v}" for k, v in sorted(counts.items())) or "none"
        name = f"spanner-pools POOL={label}" if label in POOL_MODES else f"baseline: {label}"
        rows.append(
            [name, pings, other, f"{pings * scale:.0f}", f"{pings * scale / args.size:.1f}"]
        )
    expected = args.size * 3600.0 / (0.9 * DEFAULT_INTERVAL)
    intro = (
        f"Each setup holds POOL_SIZE {args.size} sessions (the baselines: the docs' "
        f"`PingingPool(size={args.size})`, the client's default multiplexed session) and sits "
        f"idle for {args.duration:g} s with a {args.interval:g} s ping interval, after one "
        f"request and {2 * args.interval:g} s of warm-up. Pings are counted per database in "
        "the emulator's request log and scaled linearly to PING_INTERVAL=300 and one hour "
        f"(x {scale:.3f}). A session is pinged when it has been idle for 80-100% of "
        f"PING_INTERVAL (jitter), so the expected figure is {args.size} x 3600 / (0.9 x 300) "
        f"= {expected:.0f} pings per hour per worker: one cheap `SELECT 1` every "
        f"{3600 / expected:.0f} s, per worker process."
    )
    outro = (
        "\n\nThe docs' recipe pings once (its thread runs a single `pool.ping()` pass and "
        "exits), so its sessions are never pinged again: on Cloud Spanner they are deleted "
        "after about an hour idle and the next checkout pays a `GetSession` plus a "
        "`CreateSession`. The client's default (multiplexed session) needs no pings; it "
        "replaces the session every 7 days from its own thread. `bursty` holds sessions "
        "without pinging them and checks each one with `GetSession` at checkout instead.\n"
    )
    publish("idle", "Idle cost", headers, rows, intro=intro, outro=outro, write=not args.no_write)


if __name__ == "__main__":
    main()

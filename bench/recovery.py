"""Recovery: seconds from Spanner answering again to the first ``200`` a user gets.

What is measured is the user's experience: ``GET /notes`` on the Flask example site under
gunicorn (one sync worker, so every request meets the same pool), every ``POOL`` mode at the
default settings (only ``POOL`` is set). Two faults, each on a fresh emulator, database and
server, after 20 warm-up requests:

* refusal: the site reaches the emulator through a loopback proxy, which refuses connections
  (and cuts the open ones) for 1 s while the site keeps getting requests;
* restart: the emulator is stopped and started again on the same port, and the database is
  created again (every session is gone), while the site keeps getting requests.

The clock starts when Spanner answers again (the proxy listens again / the database exists
again) and stops at the first ``200``; one ``GET`` every 0.1 s, at most ``--cap`` seconds
(">60 s" in the table means no 200 within the cap).

Run: ``.venv/bin/python -m bench.recovery`` (about 3 minutes; 6 per mode when nothing recovers;
``--repeat 1`` for a third of that).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

from example_site.schema import SCHEMA
from spanner_pools import POOL_MODES
from spanner_pools.emulator import Emulator, provision

from ._common import INSTANCE, PROJECT, ROOT, publish
from ._proxy import RefusingProxy
from ._servers import Gunicorn, get

PATH = "/notes?limit=5"
POLL = 0.1  # seconds between requests while waiting
WARMUP = 20
REFUSAL = 1.0  # seconds the proxy refuses connections


@dataclass
class Outcome:
    """One fault: seconds to the first 200 after Spanner answered again (None: not within
    the cap), and the statuses answered during the fault and while waiting."""

    seconds: float | None
    cap: float
    during: Counter[int] = field(default_factory=Counter)
    waiting: Counter[int] = field(default_factory=Counter)

    def cell(self) -> str:
        return f">{self.cap:g} s" if self.seconds is None else f"{self.seconds:.2f} s"

    def statuses(self) -> str:
        def show(counts: Counter[int]) -> str:
            return ", ".join(f"{n}x {s or 'no answer'}" for s, n in sorted(counts.items()))

        return f"during: {show(self.during) or '-'}; after: {show(self.waiting) or '-'}"


def _server(mode: str, host: str, database: str) -> Gunicorn:
    return Gunicorn(
        "example_site.flask_site:create_app()",
        config=str(ROOT / "example_site" / "gunicorn.conf.py"),
        workers=1,
        env={
            "SPANNER_EMULATOR_HOST": host,
            "SPANNER_PROJECT": PROJECT,
            "SPANNER_INSTANCE": INSTANCE,
            "SPANNER_DATABASE": database,
            "SPANNER_POOL": mode,
        },
    )


def _hammer_for(port: int, seconds: float, counts: Counter[int]) -> None:
    """One GET every POLL seconds for ``seconds`` (bounded), statuses into ``counts``."""
    end = time.monotonic() + seconds
    for _ in range(int(seconds / POLL) + 1):
        if time.monotonic() >= end:
            break
        counts[get(port, PATH, timeout=60)[0]] += 1
        time.sleep(POLL)


def _wait_for_200(port: int, since: float, cap: float, counts: Counter[int]) -> float | None:
    """Seconds from ``since`` to the first 200, or None if none came within ``cap``."""
    for _ in range(int(cap / POLL) + 1):
        status = get(port, PATH, timeout=cap)[0]
        now = time.monotonic()
        if status == 200:
            return now - since
        counts[status] += 1
        if now - since >= cap:
            return None
        time.sleep(POLL)
    return None


def _warm(port: int) -> None:
    for _ in range(WARMUP):
        status = get(port, PATH)[0]
        if status != 200:
            raise RuntimeError(f"warm-up request answered {status}")


def refusal(mode: str, cap: float) -> Outcome:
    """The proxy refuses connections for REFUSAL seconds."""
    database = "rec" + uuid.uuid4().hex[:10]
    with Emulator() as emulator:
        provision(emulator.host, project=PROJECT, instance=INSTANCE, database=database, ddl=SCHEMA)
        proxy = RefusingProxy(emulator.port)
        try:
            with _server(mode, proxy.host, database) as server:
                _warm(server.port)
                outcome = Outcome(None, cap)
                proxy.refuse()
                _hammer_for(server.port, REFUSAL, outcome.during)
                proxy.accept()
                since = time.monotonic()
                outcome.seconds = _wait_for_200(server.port, since, cap, outcome.waiting)
                return outcome
        finally:
            proxy.close()


def restart(mode: str, cap: float) -> Outcome:
    """The emulator restarts on the same port; the database is created again."""
    database = "rec" + uuid.uuid4().hex[:10]
    with Emulator() as emulator:
        provision(emulator.host, project=PROJECT, instance=INSTANCE, database=database, ddl=SCHEMA)
        with _server(mode, emulator.host, database) as server:
            _warm(server.port)
            outcome = Outcome(None, cap)
            emulator.stop()
            _hammer_for(server.port, 1.0, outcome.during)
            emulator.start()
            provision(
                emulator.host, project=PROJECT, instance=INSTANCE, database=database, ddl=SCHEMA
            )
            since = time.monotonic()
            outcome.seconds = _wait_for_200(server.port, since, cap, outcome.waiting)
            return outcome


def _summary(outcomes: list[Outcome]) -> str:
    """One run: its time; several: the median and the slowest (a run not recovered within
    the cap counts as slowest)."""
    if len(outcomes) == 1:
        return outcomes[0].cell()
    times = sorted(o.seconds if o.seconds is not None else math.inf for o in outcomes)
    cap = outcomes[0].cap

    def show(value: float) -> str:
        return f">{cap:g} s" if math.isinf(value) else f"{value:.2f} s"

    return f"{show(statistics.median(times))} (slowest {show(times[-1])})"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.recovery", description=__doc__)
    parser.add_argument("--cap", type=float, default=60.0, help="longest wait for a 200 (s)")
    parser.add_argument("--modes", nargs="*", default=list(POOL_MODES), choices=POOL_MODES)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each fault and mode")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args(argv)

    rows = []
    for mode in args.modes:
        cells: list[str] = []
        statuses: list[str] = []
        for name, fault in (("1 s refusal", refusal), ("emulator restart", restart)):
            outcomes = []
            for run in range(args.repeat):
                print(f"POOL={mode}: {name} ({run + 1}/{args.repeat}) ...", flush=True)
                outcome = fault(mode, args.cap)
                print(f"  {outcome.cell()}  ({outcome.statuses()})", flush=True)
                outcomes.append(outcome)
            cells.append(_summary(outcomes))
            statuses.append(outcomes[-1].statuses())
        rows.append([f"`{mode}`", *cells, *statuses])
    headers = [
        "POOL (default settings)",
        "1 s refusal: to first 200",
        "restart: to first 200",
        "statuses, refusal",
        "statuses, restart",
    ]
    intro = (
        "Seconds from Spanner answering again to the first `200` of `GET /notes` (the Flask "
        "example, one gunicorn worker, default settings but `POOL`), one request every "
        f"{POLL:g} s, capped at {args.cap:g} s. Refusal: a loopback proxy refuses connections "
        f"for {REFUSAL:g} s; restart: the emulator restarts on the same port and the database "
        "is created again (every session lost). Statuses: answers during the fault and while "
        f"waiting (0 = no answer), of the last of {args.repeat} run(s); times are the median "
        "and the slowest of the runs."
    )
    title = "Recovery after an outage"
    publish("recovery", title, headers, rows, intro=intro, write=not args.no_write)


if __name__ == "__main__":
    main()

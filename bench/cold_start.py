"""Cold start: from a worker's start to its first answered request, with and without the
warm-up hook (``post_worker_init`` opening the pool) versus a lazy open on first request.

Two measurements per mode, each repeated on a new gunicorn (one worker, the Flask example):

* time to first answer: a client sends ``GET /notes`` while gunicorn is still starting
  (the request waits in the listen backlog); measured from the worker's ``post_fork`` to
  the response;
* first request latency: the client waits until the worker is ready (after
  ``post_worker_init``), then times its first request (and the second, for reference).

Run: ``.venv/bin/python -m bench.cold_start``.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from example_site.schema import SCHEMA
from spanner_pools.emulator import provision

from ._common import INSTANCE, PROJECT, publish, running_emulator
from ._servers import Gunicorn

APP = "example_site.flask_site:create_app()"
PATH = "/notes?limit=10"


def _events(path: Path) -> dict[str, float]:
    events: dict[str, float] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, _, stamp = line.split()
            events.setdefault(name, float(stamp))
    return events


def _timed_get(port: int) -> tuple[int, float]:
    """(status, seconds) of one GET on a new connection; status 0 if refused."""
    begin = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", PATH)
        response = conn.getresponse()
        response.read()
        return response.status, time.perf_counter() - begin
    except ConnectionRefusedError:
        return 0, time.perf_counter() - begin
    finally:
        conn.close()


def _server(env: dict[str, str], warmup: bool, times: Path) -> Gunicorn:
    return Gunicorn(
        APP,
        config="python:bench.cold_start_conf",
        workers=1,
        env={**env, "BENCH_WARMUP": "1" if warmup else "0", "BENCH_TIMES": str(times)},
    )


def time_to_first_answer(env: dict[str, str], warmup: bool) -> tuple[float, float]:
    """(worker start -> first answer, gunicorn launch -> first answer) in seconds."""
    times = Path(tempfile.mkstemp(prefix="cold-", suffix=".times")[1])
    server = _server(env, warmup, times)
    launched = time.time()
    server.start()
    try:
        for _ in range(12000):  # bounded: 60 s of 5 ms polls
            status, _ = _timed_get(server.port)
            if status == 200:
                answered = time.time()
                break
            if status != 0:
                raise RuntimeError(f"first request answered {status}:\n{server.log()[-3000:]}")
            time.sleep(0.005)
        else:
            raise RuntimeError(f"no answer within 60 s:\n{server.log()[-3000:]}")
    finally:
        server.stop()
    fork = _events(times)["fork"]
    times.unlink()
    return answered - fork, answered - launched


def first_request_latency(env: dict[str, str], warmup: bool) -> tuple[float, float]:
    """(first request, second request) latency in seconds on a worker that is ready."""
    times = Path(tempfile.mkstemp(prefix="cold-", suffix=".times")[1])
    server = _server(env, warmup, times)
    server.start()
    try:
        for _ in range(1200):  # bounded: 60 s
            if "ready" in _events(times):
                break
            time.sleep(0.05)
        else:
            raise RuntimeError(f"worker not ready within 60 s:\n{server.log()[-3000:]}")
        time.sleep(0.3)  # let the worker reach accept()
        first_status, first = _timed_get(server.port)
        second_status, second = _timed_get(server.port)
        if (first_status, second_status) != (200, 200):
            raise RuntimeError(f"got {first_status}, {second_status}:\n{server.log()[-3000:]}")
    finally:
        server.stop()
    times.unlink()
    return first, second


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f} ({min(values) * 1000:.1f}-{max(values) * 1000:.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="gunicorn starts per measurement")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args()

    modes = {True: "warm-up hook (post_worker_init opens the pool)", False: "lazy open"}
    data: dict[bool, dict[str, list[float]]] = {
        m: {"worker": [], "launch": [], "first": [], "second": []} for m in modes
    }
    with running_emulator() as emulator:
        database = "cold" + uuid.uuid4().hex[:10]
        provision(emulator.host, project=PROJECT, instance=INSTANCE, database=database, ddl=SCHEMA)
        env = {
            "SPANNER_EMULATOR_HOST": emulator.host,
            "SPANNER_PROJECT": PROJECT,
            "SPANNER_INSTANCE": INSTANCE,
            "SPANNER_DATABASE": database,
        }
        for n in range(args.repeat):
            for warmup in modes:  # alternate, so both see the same machine
                worker, launch = time_to_first_answer(env, warmup)
                first, second = first_request_latency(env, warmup)
                data[warmup]["worker"].append(worker)
                data[warmup]["launch"].append(launch)
                data[warmup]["first"].append(first)
                data[warmup]["second"].append(second)
                print(
                    f"run {n + 1} {'warm-up' if warmup else 'lazy   '}: worker start -> first "
                    f"answer {worker * 1000:.0f} ms, launch -> first answer {launch * 1000:.0f} "
                    f"ms, first request {first * 1000:.1f} ms, second {second * 1000:.1f} ms",
                    flush=True,
                )
    headers = [
        "Mode",
        "Worker start -> first answer, ms",
        "gunicorn launch -> first answer, ms",
        "First request on a ready worker, ms",
        "Second request, ms",
    ]
    rows = [
        [
            label,
            _ms(data[m]["worker"]),
            _ms(data[m]["launch"]),
            _ms(data[m]["first"]),
            _ms(data[m]["second"]),
        ]
        for m, label in modes.items()
    ]
    intro = (
        f"One sync worker serving the Flask example (POOL_SIZE 10), started {args.repeat} "
        "times per mode (alternating); median (min-max). 'Worker start -> first answer': a "
        "client sends `GET /notes?limit=10` while gunicorn starts, timed from the worker's "
        "`post_fork` to the response. 'First request on a ready worker': the client waits "
        "until `post_worker_init` has returned, then times the first and second request."
    )
    publish("cold_start", "Cold start", headers, rows, intro=intro, write=not args.no_write)


if __name__ == "__main__":
    main()

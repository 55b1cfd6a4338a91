"""Throughput and latency: the Flask example (spanner-pools) against a hand-written baseline.

Both apps serve the same endpoints with the same code (``example_site.notes``) under
gunicorn with the same workers, on the same emulator database. The only difference is the
session handling: ``flask_ext`` + ``spanner_pools`` (managed pool, pinger, per-request
handle, deadline interceptor) versus ``bench/baseline_app.py`` (a client ``PingingPool`` per
worker built in ``post_fork``, its own ping loop, ``pool.get()``/``pool.put()``).

The same closed-loop load generator (``bench/loadgen.py``) drives them alternately, A, B,
A, B..., and the ratios of requests/s and of p50/p99 latency are reported.
Run: ``.venv/bin/python -m bench.throughput``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import uuid

from google.cloud.spanner_v1 import COMMIT_TIMESTAMP

from example_site.schema import SCHEMA
from spanner_pools.emulator import provision

from ._common import (
    INSTANCE,
    PROJECT,
    ROOT,
    emulator_client,
    markdown_table,
    running_emulator,
    text_table,
    write_section,
)
from ._servers import Gunicorn
from .loadgen import LoadResult, RequestMaker, run_load

#: name -> (description, request maker, client threads). Writes run one at a time: the
#: emulator aborts any read-write transaction that overlaps another, and the client's
#: randomised retry backoff would then dominate the figures.
WORKLOADS: dict[str, tuple[str, RequestMaker, int]] = {
    "read": ("GET /notes?limit=10", lambda i: ("GET", "/notes?limit=10", None), 4),
    "write": (
        'POST /notes {"body": ...} (DML read-write transaction)',
        lambda i: ("POST", "/notes", json.dumps({"body": f"bench {i}"}).encode()),
        1,
    ),
    "bulk": (
        'POST /notes/bulk {"bodies": [3 notes]} (mutations, one commit)',
        lambda i: ("POST", "/notes/bulk", json.dumps({"bodies": ["a", "b", "c"]}).encode()),
        1,
    ),
}
TARGET_RPS_COST = 0.03
TARGET_P99_COST = 0.05


def seed(host: str, database: str, rows: int) -> None:
    db = emulator_client(host).instance(INSTANCE).database(database)
    with db.batch() as batch:
        batch.insert(
            table="notes",
            columns=("id", "body", "created"),
            values=[(uuid.uuid4().hex, f"seed {n}", COMMIT_TIMESTAMP) for n in range(rows)],
        )


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def make_server(key: str, env: dict[str, str], workers: int) -> Gunicorn:
    """A = the Flask example with spanner-pools' hooks, B = the hand-written baseline."""
    if key == "A":
        return Gunicorn(
            "example_site.flask_site:create_app()",
            config=str(ROOT / "example_site" / "gunicorn.conf.py"),
            workers=workers,
            env=env,
        )
    return Gunicorn(
        "bench.baseline_app:create_app()",
        config="python:bench.baseline_gunicorn_conf",
        workers=workers,
        env=env,
    )


class RoundFailed(RuntimeError):
    """A round that cannot be compared: the emulator died or a request was not a 2xx."""


def seeded_database(host: str, database: str) -> dict[str, str]:
    """Create ``database`` with the example schema and 50 notes; return the ``SPANNER_*``
    environment of an app on it."""
    provision(host, project=PROJECT, instance=INSTANCE, database=database, ddl=SCHEMA)
    seed(host, database, 50)
    return {
        "SPANNER_EMULATOR_HOST": host,
        "SPANNER_PROJECT": PROJECT,
        "SPANNER_INSTANCE": INSTANCE,
        "SPANNER_DATABASE": database,
    }


def measure_round(key: str, workload: str, args: argparse.Namespace) -> LoadResult:
    """One round on a fresh emulator, database and server, so both apps start equal."""
    _, maker, concurrency = WORKLOADS[workload]
    concurrency = args.concurrency or concurrency
    database = "tput" + uuid.uuid4().hex[:10]
    with running_emulator() as emulator:
        env = seeded_database(emulator.host, database)
        with make_server(key, env, args.workers) as server:
            run_load(server.port, maker, concurrency=concurrency, requests=args.warmup)
            result = run_load(server.port, maker, concurrency=concurrency, requests=args.requests)
        assert emulator.process is not None
        if emulator.process.poll() is not None:
            raise RoundFailed(f"the emulator exited ({emulator.process.returncode}) mid-round")
    bad = {status: n for status, n in result.statuses.items() if not 200 <= status < 300}
    if bad or result.errors:
        raise RoundFailed(f"non-2xx answers {bad}, connection errors {result.errors}")
    return result


def paired_in_process(
    workloads: list[str], pairs: int
) -> dict[str, tuple[list[float], list[float]]]:
    """Both Flask apps in this process (test client, no HTTP, no gunicorn), one request of
    each in turn, alternating which goes first: the emulator's drift and the machine's
    noise hit both alike, so the difference is the per-request cost of the library."""
    from example_site.flask_site import create_app as create_example
    from spanner_pools import registry

    from . import baseline_app

    database = "pair" + uuid.uuid4().hex[:10]
    latencies: dict[str, tuple[list[float], list[float]]] = {}
    with running_emulator() as emulator:
        env = seeded_database(emulator.host, database)
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            clients = {
                "A": create_example().test_client(),
                "B": baseline_app.create_app().test_client(),
            }
            registry.open_all()  # what post_worker_init does
            baseline_app.build_pool()  # what the baseline's post_fork does
            for name in workloads:
                _, maker, _ = WORKLOADS[name]
                lat: dict[str, list[float]] = {"A": [], "B": []}
                for i in range(pairs + 50):
                    order = ("A", "B") if i % 2 else ("B", "A")
                    for key in order:
                        method, path, body = maker(i)
                        begin = time.perf_counter()
                        response = clients[key].open(
                            path, method=method, data=body, content_type="application/json"
                        )
                        elapsed = time.perf_counter() - begin
                        if response.status_code >= 300:
                            raise RuntimeError(f"{key} {method} {path}: {response.status_code}")
                        if i >= 50:  # the first 50 pairs warm up
                            lat[key].append(elapsed)
                latencies[name] = (lat["A"], lat["B"])
        finally:
            registry.close_all()
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rounds", type=int, default=6, help="A/B pairs per workload under gunicorn (0: none)"
    )
    parser.add_argument("--requests", type=int, default=2000, help="requests per round")
    parser.add_argument("--warmup", type=int, default=200, help="warm-up requests per round")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=0,
        help="client threads for every workload (default: 4 for read, 1 for writes)",
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per app")
    parser.add_argument("--workloads", default="read,write,bulk", help="comma-separated")
    parser.add_argument(
        "--pairs", type=int, default=1000, help="in-process A/B request pairs per workload"
    )
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args()
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    for name in workloads:
        if name not in WORKLOADS:
            parser.error(f"--workloads: unknown workload {name!r} (known: {', '.join(WORKLOADS)})")

    paired = paired_in_process(workloads, args.pairs) if args.pairs else {}
    pair_headers = [
        "Workload",
        "A median ms",
        "B median ms",
        "A mean ms",
        "B mean ms",
        "A p99 ms",
        "B p99 ms",
        "A - B median (ms per request)",
        "Median ratio (A/B)",
    ]
    pair_rows = []
    for name, (lat_a, lat_b) in paired.items():
        res_a, res_b = LoadResult(latencies=lat_a), LoadResult(latencies=lat_b)
        med_a, med_b = statistics.median(lat_a), statistics.median(lat_b)
        pair_rows.append(
            [
                name,
                _ms(med_a),
                _ms(med_b),
                _ms(statistics.mean(lat_a)),
                _ms(statistics.mean(lat_b)),
                _ms(res_a.percentile(99)),
                _ms(res_b.percentile(99)),
                f"{(med_a - med_b) * 1000:+.3f}",
                f"{med_a / med_b:.3f}",
            ]
        )
    if pair_rows:
        print(text_table(pair_headers, pair_rows), flush=True)

    results: dict[str, dict[str, list[LoadResult]]] = {w: {"A": [], "B": []} for w in workloads}
    discarded: list[str] = []
    for name in workloads:
        for round_no in range(args.rounds):
            for key in ("A", "B"):
                for attempt in range(3):
                    try:
                        res = measure_round(key, name, args)
                        break
                    except RoundFailed as exc:
                        note = f"{name} round {round_no + 1} {key} attempt {attempt + 1}: {exc}"
                        print(f"discarded: {note}", flush=True)
                        discarded.append(note)
                else:
                    raise SystemExit(f"{name} round {round_no + 1} {key} failed three times")
                results[name][key].append(res)
                print(
                    f"{name} round {round_no + 1} {key}: {res.rps:7.1f} req/s "
                    f"p50 {_ms(res.percentile(50))} ms p99 {_ms(res.percentile(99))} ms "
                    f"statuses {dict(res.statuses)} errors {res.errors}",
                    flush=True,
                )

    headers = [
        "Workload",
        "App",
        "Requests",
        "Req/s (all rounds)",
        "Req/s per round (min-max)",
        "p50 ms",
        "p99 ms",
        "Non-2xx / errors",
    ]
    label = {"A": "spanner-pools (flask_ext)", "B": "baseline (plain client)"}
    rows: list[list[str]] = []
    verdicts: list[str] = []
    ratio_rows: list[list[str]] = []
    for name in workloads if args.rounds else []:
        merged = {}
        for key in ("A", "B"):
            rounds = results[name][key]
            total = rounds[0]
            for more in rounds[1:]:
                total = total.merge(more)
            merged[key] = total
            per_round = [r.rps for r in rounds]
            bad = sum(v for s, v in total.statuses.items() if s >= 300)
            rows.append(
                [
                    name,
                    label[key],
                    str(total.requests),
                    f"{total.rps:.1f}",
                    f"{min(per_round):.1f}-{max(per_round):.1f}",
                    _ms(total.percentile(50)),
                    _ms(total.percentile(99)),
                    f"{bad} / {total.errors}",
                ]
            )
        a, b = merged["A"], merged["B"]
        rps_ratio = a.rps / b.rps
        round_ratios = [
            x.rps / y.rps for x, y in zip(results[name]["A"], results[name]["B"], strict=True)
        ]
        p50_ratio = a.percentile(50) / b.percentile(50)
        p99_ratio = a.percentile(99) / b.percentile(99)
        ratio_rows.append(
            [
                name,
                f"{rps_ratio:.3f}",
                f"{statistics.median(round_ratios):.3f} "
                f"({min(round_ratios):.3f}-{max(round_ratios):.3f})",
                f"{p50_ratio:.3f}",
                f"{p99_ratio:.3f}",
            ]
        )
        rps_ok = rps_ratio >= 1 - TARGET_RPS_COST
        p99_ok = p99_ratio <= 1 + TARGET_P99_COST
        verdicts.append(
            f"- **{name}**: throughput {'met' if rps_ok else 'NOT met'} "
            f"({(1 - rps_ratio) * 100:+.1f}% cost, target at most {TARGET_RPS_COST * 100:.0f}%), "
            f"p99 {'met' if p99_ok else 'NOT met'} "
            f"({(p99_ratio - 1) * 100:+.1f}% cost, target at most {TARGET_P99_COST * 100:.0f}%)."
        )
    ratio_headers = [
        "Workload",
        "Req/s ratio (A/B)",
        "Paired per-round ratio: median (min-max)",
        "p50 ratio (A/B)",
        "p99 ratio (A/B)",
    ]
    print()
    print(text_table(headers, rows))
    print()
    print(text_table(ratio_headers, ratio_rows))
    print("\n".join(verdicts))
    if args.no_write:
        return
    body = (
        f"{args.workers} sync gunicorn workers per app, POOL_SIZE 10, PING_INTERVAL 300, "
        "closed-loop client threads with one connection each (4 for reads, 1 for writes: the "
        "emulator aborts overlapping read-write transactions). "
        f"{args.rounds} "
        f"rounds per app and workload, run alternately (A, B, A, B, ...); every round starts a "
        f"fresh emulator, database (50 seed rows) and gunicorn, sends {args.warmup} warm-up "
        f"requests, then measures {args.requests} requests. Fresh per round because the "
        "emulator gets slower with every query it has served (about +1 ms per 1,000 reads "
        "here), which would otherwise favour whichever app runs first. Everything shares the "
        "same 2 CPUs: emulator, gunicorn workers and load generator. Workloads: "
        + "; ".join(
            f"{n} = `{WORKLOADS[n][0]}`, {args.concurrency or WORKLOADS[n][2]} thread(s)"
            for n in workloads
        )
        + ". A = the Flask example (`example_site.flask_site`, `flask_ext`), B = "
        "`bench/baseline_app.py` (same views and `example_site.notes` code on a plain "
        "`PingingPool`). Cost = how much worse A is than B (negative: A was faster).\n\n"
        + markdown_table(headers, rows)
        + "\n\n"
        + markdown_table(ratio_headers, ratio_rows)
        + "\n\nTargets (the extension costs at most 3% of throughput and at most 5% of p99):\n\n"
        + "\n".join(verdicts)
        + "\n"
    )
    spreads = [float(part) for row in ratio_rows for part in row[2].split(" (")[1][:-1].split("-")]
    if spreads:
        body += (
            f"\nPrecision: the A/B ratio of a single round (A and B run back to back) ranged "
            f"from {min(spreads):.3f} to {max(spreads):.3f}, a spread far wider than the "
            "targets themselves, so "
            "the verdicts compare all rounds together and a repeat run can land a few percent "
            "either way. The in-process pairs below measure the library's own cost directly.\n"
        )
    if discarded:
        body += (
            "\nRounds discarded and run again (the emulator died, or answers were not 2xx):\n\n"
            + "\n".join(f"- {note}" for note in discarded)
            + "\n"
        )
    if pair_rows:
        body += (
            f"\nThe same two apps in one process through Flask's test client (no HTTP, no "
            f"gunicorn), {args.pairs} requests each per workload, one of each in turn with "
            "the order swapped every pair, on a fresh emulator. Machine noise and the "
            "emulator's drift hit both alike, so this isolates the per-request cost of "
            "`flask_ext` + `spanner_pools` over a hand-made `pool.get()`/`pool.put()`:\n\n"
            + markdown_table(pair_headers, pair_rows)
            + "\n"
        )
    write_section("throughput", "Throughput: Flask example vs hand-written baseline", body)


if __name__ == "__main__":
    main()

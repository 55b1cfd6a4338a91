"""gunicorn settings for ``bench.cold_start``: the example's hooks, timed.

``BENCH_TIMES`` is a file that gets one line per event (``fork``/``ready``, pid, epoch
seconds); ``BENCH_WARMUP=0`` skips the pool opening of ``post_worker_init`` so that the pool
opens lazily on the first request.
"""

from __future__ import annotations

import os
import time
from typing import Any

from spanner_pools import gunicorn as hooks

workers = 1
worker_class = "sync"
control_socket_disable = True


def _record(event: str) -> None:
    with open(os.environ["BENCH_TIMES"], "a") as out:
        out.write(f"{event} {os.getpid()} {time.time():.6f}\n")


def on_starting(server: Any) -> None:
    hooks.on_starting(server)  # the master imports the client once


def post_fork(server: Any, worker: Any) -> None:
    _record("fork")
    hooks.post_fork(server, worker)


def post_worker_init(worker: Any) -> None:
    if os.environ.get("BENCH_WARMUP", "1") == "1":
        hooks.post_worker_init(worker)
    _record("ready")


def worker_exit(server: Any, worker: Any) -> None:
    hooks.worker_exit(server, worker)

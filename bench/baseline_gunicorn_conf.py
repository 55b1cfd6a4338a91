"""gunicorn settings of the baseline app: the pool is built in each worker after fork."""

from __future__ import annotations

from typing import Any

workers = 2
worker_class = "sync"
graceful_timeout = 20
control_socket_disable = True


def post_fork(server: Any, worker: Any) -> None:
    from bench import baseline_app

    baseline_app.build_pool()

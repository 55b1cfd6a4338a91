"""gunicorn config for ``-k gevent`` workers: the spanner_pools hooks plus gRPC's gevent mode.

gRPC blocks the whole gevent hub (every greenlet of the worker: the worker does not even
answer requests that never touch Spanner) unless ``grpc.experimental.gevent.init_gevent()``
runs in the worker after gevent's monkey-patching and before the first channel is used.
gunicorn's gevent worker patches in ``init_process``, after ``post_fork`` and before
``post_worker_init``, so the call goes first in ``post_worker_init``, before the pools open::

    gunicorn -k gevent -c tests/flask/gunicorn_gevent.py 'flask_testapp:create_app()'

The hooks import ``spanner_pools`` (and so ``google.cloud`` and ``urllib3``, which import
from ``ssl``) only after the worker patched: without ``--preload`` gevent then patches
cleanly. With ``--preload`` the master imported them already and gevent warns
(``MonkeyPatchWarning``); plain Spanner gRPC traffic does not go through those modules.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["post_fork", "post_worker_init", "worker_exit"]


def post_fork(server: Any, worker: Any) -> None:
    """Runs before gevent patches: touch spanner_pools only if the master imported it."""
    if "spanner_pools.registry" in sys.modules:  # --preload
        from spanner_pools import gunicorn as hooks

        hooks.post_fork(server, worker)


def post_worker_init(worker: Any) -> None:
    """Switch gRPC to gevent-friendly polling in this worker, then open the pools."""
    from gevent import monkey

    if monkey.is_module_patched("socket"):
        from grpc.experimental import gevent as grpc_gevent

        grpc_gevent.init_gevent()
    from spanner_pools import gunicorn as hooks

    hooks.post_worker_init(worker)


def worker_exit(server: Any, worker: Any) -> None:
    from spanner_pools import gunicorn as hooks

    hooks.worker_exit(server, worker)

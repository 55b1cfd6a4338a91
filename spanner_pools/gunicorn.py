"""gunicorn server hooks: one pool per worker, opened before the first request, closed on exit.

In ``gunicorn.conf.py``::

    from spanner_pools.gunicorn import post_fork, post_worker_init, worker_exit

or run ``gunicorn -c python:spanner_pools.gunicorn app:app``. Works with and without
``--preload``: nothing is opened in the master, each worker builds its own client and
sessions after fork, and a worker that exits (``--max-requests``, HUP, shutdown) deletes them.
A worker killed without cleaning up (SIGKILL, timeout, OOM) is reaped by its replacement; when
the master knows the pools too (``--preload``, or pools built in the config file),
``child_exit`` also starts a short-lived reaper process, and ``on_exit`` runs one after the
final stop and waits for it (bounded), so no replacement is needed. ``child_exit`` also keeps
Prometheus multiprocess gauges right.
"""

from __future__ import annotations

import os
from typing import Any

from . import registry
from ._gunicorn_log import follow_gunicorn_log

__all__ = ["child_exit", "on_exit", "on_starting", "post_fork", "post_worker_init", "worker_exit"]


def on_starting(server: Any) -> None:
    """In the master: import the Spanner client once, so no worker pays ~0.3 s for it.

    Only imports (no channel, no thread: fork stays safe). Skipped for gevent/eventlet
    workers, which must patch the standard library before ``ssl`` and ``grpc`` load.
    """
    follow_gunicorn_log(getattr(server, "log", None))  # library log lines in gunicorn's format
    worker_class = str(getattr(server.cfg, "worker_class_str", ""))
    if "gevent" in worker_class or "eventlet" in worker_class:
        return
    from . import manager  # noqa: F401 - loads google-cloud-spanner and grpc


def post_fork(server: Any, worker: Any) -> None:
    """Drop anything the master built before fork (``os.register_at_fork`` does it too)."""
    registry.reset_after_fork()
    follow_gunicorn_log(getattr(worker, "log", None))


def post_worker_init(worker: Any) -> None:
    """The app is loaded: open every pool so no request pays for session creation.

    If Spanner is unreachable the worker still boots; pools retry in the background and
    requests get 503 until they are open.
    """
    from . import _gunicorn_quit, reaper
    from ._gevent import init_grpc_for_gevent

    init_grpc_for_gevent()
    # Again: loading the app may have configured logging (Django's LOGGING).
    follow_gunicorn_log(getattr(worker, "log", None))
    registry.open_all(wait=True)
    # gunicorn's quick shutdown (SIGQUIT) in a worker it does not end (UvicornWorker).
    _gunicorn_quit.install(worker, registry.close_all)
    # A worker that replaces a killed one (timeout, OOM, SIGKILL) deletes what it left.
    reaper.reap_in_background(registry.managers())


def worker_exit(server: Any, worker: Any) -> None:
    """Stop the pingers and delete this worker's sessions on the server."""
    registry.close_all()


def child_exit(server: Any, worker: Any) -> None:
    """In the master: drop an exited worker's live Prometheus gauges (multiprocess mode);
    if the master has the pools' settings, delete what the worker may have left, from a
    short-lived process (the master holds no channel; its ``waitpid(-1)`` collects it)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # else prometheus-client may be absent
        from . import metrics

        metrics.child_exit(server, worker)
    managers = registry.managers()
    if managers and getattr(server, "LISTENERS", None) != []:  # [] once stopping: on_exit
        _spawn_reaper(managers)


#: The reaper process child_exit started last: (PID, start time).
_reaper: tuple[int, str] | None = None


def _spawn_reaper(managers: list[Any]) -> None:
    """One reaper process at a time (a HUP ends every worker at once): while the last one
    runs, what it may miss is reaped by the replacement worker or ``on_exit``."""
    global _reaper
    from . import owner, reaper

    if _reaper is not None and owner.start_time(_reaper[0]) == _reaper[1]:
        return  # still running (or not yet collected by gunicorn's waitpid)
    pid = reaper.spawn(managers)
    started = None if pid is None else owner.start_time(pid)
    _reaper = None if pid is None or started is None else (pid, started)


def on_exit(server: Any) -> None:
    """In the master, after the final stop (every worker gone): if it has the pools'
    settings, delete what killed workers left, from a reaper process it waits for."""
    managers = registry.managers()
    if managers:
        from . import reaper

        reaper.run(managers)

"""Celery hooks: a pool per worker process, opened without blocking start-up, closed at exit.

Call :func:`install` once (e.g. next to your ``Celery()`` app), or connect the handlers
yourself to ``worker_process_init`` and ``worker_process_shutdown``. Importing this module does
not import Celery; :func:`install` does.

Prefork children (billiard) end with ``os._exit``: ``atexit`` never runs there, so
``worker_process_shutdown`` is the one hook that deletes a child's sessions. Celery runs it on
every normal child exit (warm shutdown, ``--max-tasks-per-child``); a child killed by SIGKILL
leaves its sessions to the next process that opens pools on the host (``spanner_pools.owner``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from . import reaper, registry

__all__ = ["install", "on_worker_process_init", "on_worker_process_shutdown"]

#: Which pools a child opens at start: True (all), False (none: each opens on first use), or
#: the aliases to open. Set by :func:`install`.
_open_at_start: bool | frozenset[str] = True


def _open_chosen() -> None:
    chosen = _open_at_start
    if chosen is True:
        registry.open_all()
    elif chosen:
        for manager in registry.managers():
            if manager.alias in chosen:
                try:
                    manager.open()
                except Exception as exc:  # noqa: BLE001 - the pinger retries; tasks get errors
                    manager.log.error("could not open: %s", exc)
    reaper.reap_in_background(m for m in registry.managers() if m.opened)


def on_worker_process_init(**kwargs: Any) -> None:
    """Celery kills a child whose init blocks for 4 s: open the pools in a thread."""
    registry.reset_after_fork()
    if _open_at_start is False:
        return
    threading.Thread(target=_open_chosen, name="spanner-pools-open", daemon=True).start()


def on_worker_process_shutdown(**kwargs: Any) -> None:
    """Delete this child's sessions: the only hook a prefork child runs before ``os._exit``."""
    registry.close_all()


def install(open_at_start: bool | Iterable[str] = True) -> None:
    """Connect both handlers to Celery's signals.

    ``open_at_start``: ``True`` opens every pool of the process in each child (with Django:
    every ``SPANNER`` alias); ``False`` opens none, so a child creates sessions only for the
    pools its tasks use, on first use; a list of aliases opens just those.
    """
    global _open_at_start
    if isinstance(open_at_start, bool):
        _open_at_start = open_at_start
    elif isinstance(open_at_start, str):
        raise TypeError(
            "spanner_pools.celery.install(open_at_start=...) expects True, False or a list of "
            f"aliases, got the string {open_at_start!r}; write [{open_at_start!r}]"
        )
    else:
        _open_at_start = frozenset(open_at_start)
    try:
        from celery import signals
    except ImportError as exc:
        raise RuntimeError(
            "spanner_pools.celery.install() needs Celery: pip install celery"
        ) from exc
    signals.worker_process_init.connect(on_worker_process_init, weak=False)
    signals.worker_process_shutdown.connect(on_worker_process_shutdown, weak=False)

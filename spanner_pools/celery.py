"""Celery hooks: a pool per worker process, opened without blocking start-up, closed at exit.

Call :func:`install` once (e.g. next to your ``Celery()`` app), or connect the handlers
yourself to ``worker_process_init`` and ``worker_process_shutdown``. Importing this module does
not import Celery; :func:`install` does.
"""

from __future__ import annotations

import threading
from typing import Any

from . import registry

__all__ = ["install", "on_worker_process_init", "on_worker_process_shutdown"]


def on_worker_process_init(**kwargs: Any) -> None:
    """Celery kills a child whose init blocks for 4 s: open the pools in a thread."""
    registry.reset_after_fork()
    threading.Thread(target=registry.open_all, name="spanner-pools-open", daemon=True).start()


def on_worker_process_shutdown(**kwargs: Any) -> None:
    """Delete this child's sessions (Celery does not guarantee this signal; atexit backs it up)."""
    registry.close_all()


def install() -> None:
    """Connect both handlers to Celery's signals."""
    try:
        from celery import signals
    except ImportError as exc:
        raise RuntimeError(
            "spanner_pools.celery.install() needs Celery: pip install celery"
        ) from exc
    signals.worker_process_init.connect(on_worker_process_init, weak=False)
    signals.worker_process_shutdown.connect(on_worker_process_shutdown, weak=False)

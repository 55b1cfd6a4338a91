"""uWSGI hooks: open pools after fork (before the first request), close them at worker exit.

In the WSGI module, import this module by its full name, so that ``uwsgi`` in that file stays
uWSGI's own module::

    import spanner_pools.uwsgi
    spanner_pools.uwsgi.install()

uWSGI must run with ``--master`` (:func:`install` raises :class:`ConfigurationError` saying so
otherwise). Without ``--lazy-apps`` the pools open in each worker after fork; with it the app
loads in the worker, so they open at once. Sessions are deleted through ``uwsgi.atexit`` and
Python's ``atexit``. A worker stopped while busy (SIGINT, or SIGTERM with ``--die-on-term``)
runs neither, and the master runs no Python at exit: without ``--lazy-apps``, :func:`install`
therefore registers a C-level exit handler in the master (:mod:`._master_exit`) that, once
every worker is buried, runs a short-lived reaper process (:mod:`.reaper`) and waits for it,
bounded; the master itself never builds a client. With ``--lazy-apps`` the master has no
pools: what a busy-stopped worker left is deleted by the next worker that starts on the host
(:mod:`spanner_pools.owner`), as after a SIGKILL. Importing this module does not import
``uwsgi``.
"""

from __future__ import annotations

import atexit
import importlib
import logging
from typing import Any

from . import registry
from .errors import ConfigurationError

__all__ = ["install", "postfork"]

logger = logging.getLogger(__name__)


def postfork() -> None:
    """Runs in each worker after fork: drop inherited state, open every pool, then (in the
    background) delete sessions that dead workers of this host left behind."""
    from . import reaper

    registry.reset_after_fork()
    registry.open_all(wait=True)
    reaper.reap_in_background(registry.managers())


def _uwsgi() -> Any:
    """uWSGI's own ``uwsgi`` module (absolute import: never this module)."""
    try:
        return importlib.import_module("uwsgi")
    except ImportError as exc:
        raise RuntimeError(
            "spanner_pools.uwsgi.install() must run inside uWSGI (module uwsgi not found)"
        ) from exc


def _option(uwsgi: Any, name: str) -> bool:
    """True if the uWSGI option ``name`` is set (``uwsgi.opt`` has bytes or str keys)."""
    options = getattr(uwsgi, "opt", {}) or {}
    return any(
        options.get(key) not in (None, False, b"false", "false") for key in (name, name.encode())
    )


def _chain_atexit(uwsgi: Any) -> None:
    """Set ``uwsgi.atexit`` to close the pools, keeping one the app set before."""
    previous = getattr(uwsgi, "atexit", None)
    if getattr(previous, "_spanner_pools", False):
        return

    def close_pools() -> None:
        registry.close_all()
        if previous is not None:
            previous()

    close_pools._spanner_pools = True  # type: ignore[attr-defined]
    uwsgi.atexit = close_pools


def install() -> None:
    """Open every pool in each uWSGI worker before its first request; close them at exit."""
    uwsgi = _uwsgi()
    if not uwsgi.masterpid():
        raise ConfigurationError(
            "spanner_pools.uwsgi.install() needs uWSGI's master process: add --master "
            "(or master = true in the ini file); without it workers are not re-forked "
            "cleanly and their sessions are not deleted",
            key="master",
            value=False,
        )
    _chain_atexit(uwsgi)
    atexit.register(registry.close_all)
    if _option(uwsgi, "lazy-apps") or _option(uwsgi, "lazy") or uwsgi.worker_id() > 0:
        # The app is loading in a worker (already forked): open now, before any request.
        postfork()
        return
    # uWSGI forks without Python's before-fork hooks: pools the app already opened get their
    # fork token now, so the "opened before fork" warning comes once, not once per worker.
    registry._before_fork()
    registry._after_fork_in_parent()
    from . import _master_exit

    _master_exit.reap_at_exit(registry.managers())
    from uwsgidecorators import postfork as uwsgi_postfork

    uwsgi_postfork(postfork)

"""uWSGI hooks: open pools after fork, close them at worker exit.

Call :func:`install` from the WSGI module (uWSGI must run with a master and without
``--lazy-apps``; with ``--lazy-apps`` apps load after fork and nothing is needed). Importing this
module does not import ``uwsgi``; :func:`install` does.
"""

from __future__ import annotations

import atexit

from . import registry

__all__ = ["install", "postfork"]


def postfork() -> None:
    """Runs in each worker after fork: drop inherited state, open every pool."""
    registry.reset_after_fork()
    registry.open_all(wait=True)


def install() -> None:
    """Register :func:`postfork` with uWSGI and close pools when the worker exits."""
    try:
        from uwsgidecorators import postfork as uwsgi_postfork
    except ImportError as exc:  # pragma: no cover - depends on running under uWSGI
        raise RuntimeError(
            "spanner_pools.uwsgi.install() must run inside uWSGI (module uwsgidecorators not found)"
        ) from exc
    uwsgi_postfork(postfork)
    atexit.register(registry.close_all)

"""SIGTERM for servers without a stop hook (waitress, ``flask run``): delete sessions, then die.

Python's default SIGTERM kills the process without ``atexit``, so a plain server stopped by an
operator (``kill``, systemd, Docker) would leave its sessions on Spanner for an hour. When the
first pool manager is built in the main thread and SIGTERM still has its default action, this
installs a handler that closes every pool (in a helper thread, bounded, so a lock held by the
interrupted code cannot hang it), restores the default action and re-raises the signal: the
process still dies by SIGTERM, as before. Nothing is installed when anything else owns SIGTERM
(gunicorn, uvicorn, daphne/Twisted, Celery install their own handler before or after this; a
server that replaces ours has its own lifecycle), and never under uWSGI, whose C handlers
Python cannot see. The same handler serves other signals whose default action ends a worker
(gunicorn's quick-shutdown SIGQUIT, :mod:`._gunicorn_quit`).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType

__all__ = ["close_bounded", "install", "installed"]

logger = logging.getLogger(__name__)

#: Seconds the handler waits for the sessions to be deleted before the process dies anyway.
CLOSE_TIMEOUT = 10.0

#: Per signal: the process that installed the handler, and what the handler runs (the
#: registry's ``close_all``), set by :func:`install`.
_pids: dict[int, int] = {}
_closers: dict[int, Callable[[], None]] = {}


def installed(signum: int = signal.SIGTERM) -> bool:
    """True if this process's handler of ``signum`` (SIGTERM) is the one of this module."""
    try:
        return signal.getsignal(signum) is _on_signal
    except (ValueError, AttributeError):  # pragma: no cover - no such signal on this platform
        return False


def install(close: Callable[[], None], signum: int = signal.SIGTERM) -> bool:
    """Install the handler (running ``close``) if ``signum`` (SIGTERM) has its default action
    here; True if installed now."""
    if threading.current_thread() is not threading.main_thread():
        return False
    if "uwsgi" in sys.modules or _pids.get(signum) == os.getpid():
        return False
    try:
        if signal.getsignal(signum) is not signal.SIG_DFL:
            return False
        _closers[signum] = close
        signal.signal(signum, _on_signal)
    except (ValueError, OSError):  # not the main interpreter, or no signals here
        return False
    _pids[signum] = os.getpid()
    return True


def close_bounded(close: Callable[[], None], signum: int) -> None:
    """Run ``close`` in a helper thread and wait at most :data:`CLOSE_TIMEOUT` for it."""
    closer = threading.Thread(target=close, name="spanner-pools-signal", daemon=True)
    closer.start()
    closer.join(CLOSE_TIMEOUT)
    if closer.is_alive():
        logger.warning(
            "spanner_pools: sessions not all deleted within %.0f s of %s",
            CLOSE_TIMEOUT,
            signal.Signals(signum).name,
        )


def _on_signal(signum: int, frame: FrameType | None) -> None:
    """Close every pool, then let the signal do what it did before: end the process."""
    close_bounded(_closers.get(signum) or (lambda: None), signum)
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)

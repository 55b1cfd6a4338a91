"""SIGTERM for servers without a stop hook (waitress, ``flask run``): delete sessions, then die.

Python's default SIGTERM kills the process without ``atexit``, so a plain server stopped by an
operator (``kill``, systemd, Docker) would leave its sessions on Spanner for an hour. When the
first pool manager is built in the main thread and SIGTERM still has its default action, this
installs a handler that closes every pool (in a helper thread, bounded, so a lock held by the
interrupted code cannot hang it), restores the default action and re-raises the signal: the
process still dies by SIGTERM, as before. Nothing is installed when anything else owns SIGTERM
(gunicorn, uvicorn, daphne/Twisted, Celery install their own handler before or after this; a
server that replaces ours has its own lifecycle), and never under uWSGI, whose C handlers
Python cannot see.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType

__all__ = ["install", "installed"]

logger = logging.getLogger(__name__)

#: Seconds the handler waits for the sessions to be deleted before the process dies anyway.
CLOSE_TIMEOUT = 10.0

_pid: int | None = None  # the process that installed the handler
#: What the handler runs (the registry's ``close_all``), set by :func:`install`.
_close: Callable[[], None] | None = None


def installed() -> bool:
    """True if this process's SIGTERM handler is the one of this module."""
    try:
        return signal.getsignal(signal.SIGTERM) is _on_sigterm
    except (ValueError, AttributeError):  # pragma: no cover - no SIGTERM on this platform
        return False


def install(close: Callable[[], None]) -> bool:
    """Install the handler (running ``close``) if SIGTERM has its default action here; True if
    installed now."""
    global _pid, _close
    if not hasattr(signal, "SIGTERM") or threading.current_thread() is not threading.main_thread():
        return False
    if "uwsgi" in sys.modules or _pid == os.getpid():
        return False
    try:
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return False
        _close = close
        signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):  # not the main interpreter, or no signals here
        return False
    _pid = os.getpid()
    return True


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Close every pool, then let SIGTERM do what it did before: end the process."""
    closer = threading.Thread(
        target=_close or (lambda: None), name="spanner-pools-sigterm", daemon=True
    )
    closer.start()
    closer.join(CLOSE_TIMEOUT)
    if closer.is_alive():
        logger.warning(
            "spanner_pools: sessions not all deleted within %.0f s of SIGTERM", CLOSE_TIMEOUT
        )
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)

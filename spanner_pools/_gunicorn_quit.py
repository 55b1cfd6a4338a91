"""gunicorn's quick shutdown for worker classes that SIGQUIT does not end (``UvicornWorker``).

At SIGINT or SIGQUIT the master sends SIGQUIT to every worker and SIGKILLs those still alive
after ``--graceful-timeout``. gunicorn's own workers (sync, gthread, gevent, eventlet) exit on
it through ``sys.exit``, so ``worker_exit`` deletes their sessions; nothing is done for them.
``uvicorn_worker.UvicornWorker`` (0.4) resets every signal to its default action in
``init_signals``, then routes SIGQUIT through its event loop to ``Worker.handle_exit``, which
only sets ``alive = False``: the worker serves on until the SIGKILL, and its sessions stay on
Spanner. So in a worker whose SIGQUIT has its default action after ``init_signals``:

* ``worker.handle_exit`` is wrapped: on SIGQUIT it runs the original, then, in a thread (the
  event loop keeps running, so requests finishing meanwhile give their sessions back), closes
  the pools (bounded: sessions still lent after the grace are deleted too) and sends the worker
  SIGTERM, which ends it the way a graceful stop does (uvicorn's shutdown, then it dies by
  SIGTERM): no wait for the SIGKILL, no traceback per cancelled request, no core dump;
* until something replaces it, SIGQUIT gets the handler of :mod:`._sigterm`: close the pools,
  restore the default action, re-raise (a worker class that never handles SIGQUIT dies by it
  as before).
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from . import _sigterm

__all__ = ["install"]

logger = logging.getLogger(__name__)

#: Longest wait for lent sessions at a quick shutdown (a third of ``--graceful-timeout`` if
#: that is shorter, so the deletes finish before the master's SIGKILL).
QUIT_GRACE = 5.0


def install(worker: Any, close: Callable[[float], None]) -> bool:
    """In a gunicorn worker (``post_worker_init``) whose SIGQUIT has its default action: make
    SIGQUIT run ``close(grace)`` first. True if installed."""
    quit_signal = getattr(signal, "SIGQUIT", None)
    original = getattr(worker, "handle_exit", None)
    if quit_signal is None or not callable(original):
        return False
    if threading.current_thread() is not threading.main_thread():
        return False
    try:
        if signal.getsignal(quit_signal) is not signal.SIG_DFL:
            return False  # gunicorn's handle_quit: the worker exits and worker_exit runs
    except ValueError:  # pragma: no cover - not the main interpreter
        return False
    graceful = float(getattr(getattr(worker, "cfg", None), "graceful_timeout", 30) or 30)
    closing = functools.partial(close, min(QUIT_GRACE, graceful / 3))
    _sigterm.install(closing, quit_signal)

    quitting = threading.Event()

    def quit_after_closing() -> None:
        _sigterm.close_bounded(closing, quit_signal)
        os.kill(os.getpid(), signal.SIGTERM)

    def handle_exit(sig: int, frame: FrameType | None) -> None:
        original(sig, frame)
        if sig != quit_signal or quitting.is_set():
            return
        quitting.set()
        logger.info("spanner_pools: SIGQUIT (gunicorn's quick shutdown): deleting the sessions")
        threading.Thread(target=quit_after_closing, name="spanner-pools-quit", daemon=True).start()

    worker.handle_exit = handle_exit
    return True

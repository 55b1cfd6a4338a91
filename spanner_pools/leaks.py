"""Leak detection (``LEAK_TIMEOUT``): a watcher thread that reports, once per handle, a session
held too long, with the stack where it was checked out (as the Java client's
``trackStackTraceOfSessionCheckout`` does)."""

from __future__ import annotations

import contextlib
import logging
import os
import time
import traceback
from collections.abc import Callable
from typing import Any

from .handle import Loan
from .stats import PoolCounters
from .worker import PeriodicWorker

__all__ = ["LEAK_STACK_FRAMES", "LeakWatcher", "caller_stack"]

#: Frames of the caller kept in a leak report's checkout stack.
LEAK_STACK_FRAMES = 20
_PACKAGE_DIR = os.path.normcase(os.path.dirname(os.path.abspath(__file__)))
_CONTEXTLIB_FILE = os.path.normcase(os.path.abspath(contextlib.__file__))


def caller_stack() -> str:
    """The checkout's stack without this library's own frames at the end (for leak reports)."""
    frames = traceback.extract_stack(limit=LEAK_STACK_FRAMES + 12)[:-1]
    while frames:
        filename = os.path.normcase(os.path.abspath(frames[-1].filename))
        if filename.startswith(_PACKAGE_DIR + os.sep) or filename == _CONTEXTLIB_FILE:
            frames.pop()
        else:
            break
    return "".join(traceback.format_list(frames[-LEAK_STACK_FRAMES:]))


class LeakWatcher:
    """A daemon thread that sleeps until the earliest loan becomes due (or a checkout wakes
    it), so a report comes ``limit`` seconds after the checkout whatever the pool mode or
    ping interval. Started on the first checkout of a process (never in a master that only
    forks), stopped by ``close()``; a forked child starts its own.
    """

    def __init__(
        self,
        name: str,
        *,
        limit: float,
        loans: Callable[[], list[Loan]],
        counters: PoolCounters,
        log: logging.Logger | logging.LoggerAdapter[Any],
    ) -> None:
        self._limit = limit
        self._loans = loans
        self._counters = counters
        self._log = log
        self._worker = PeriodicWorker(name, self._step)

    @property
    def name(self) -> str:
        return self._worker.name

    def start(self) -> None:
        self._worker.start()

    def is_alive(self) -> bool:
        return self._worker.is_alive()

    def poke(self) -> None:
        """A session was checked out: recompute the next due time."""
        self._worker.wake()

    def stop(self, timeout: float = 1.0) -> None:
        self._worker.stop(timeout)

    def _step(self) -> float | None:
        try:
            return self.report()
        except Exception:  # noqa: BLE001 - the watcher must survive anything
            self._log.exception("leak watcher pass failed")
            return 1.0

    def report(self) -> float | None:
        """Log, once per loan, sessions held longer than the limit; the seconds until the next
        loan becomes due (None: nothing to watch until the next checkout)."""
        now = time.monotonic()
        next_due: float | None = None
        for loan in self._loans():
            since = loan.checked_out_at
            if loan.leak_reported or since is None:
                continue
            held = now - since
            if held < self._limit:
                left = self._limit - held
                next_due = left if next_due is None else min(next_due, left)
                continue
            loan.leak_reported = True
            self._log.warning(
                "session held for %.1fs (LEAK_TIMEOUT=%gs) by thread %s and not returned "
                "(reported once per handle); checked out at:\n%s",
                held,
                self._limit,
                loan.thread_name,
                loan.checkout_stack or "(stack not recorded)",
            )
            # Counted once logged: whoever sees the count can find the report in the log.
            self._counters.add(leaks_reported=1)
        return next_due

"""The background pinger: a loop around the pool's maintenance, unlike the docs' recipe.

``threading.Thread(target=pool.ping)`` runs one pass and exits. This thread loops until
stopped, sleeping until the next session is due; each pass re-creates missing sessions,
rotates old ones, pings idle ones (and calls ``begin_pending_transactions()`` for
``transaction_pinging``). A failed pass is retried with the breaker's backoff (0.25 s doubling
to 2 s), so missing sessions come back within seconds of Spanner answering; settings the
server refused (:class:`~spanner_pools.errors.PoolMisconfigured`) are logged once and retried
slowly (up to ``MISCONFIGURED_BACKOFF``), in case the database is created later.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from .errors import PoolMisconfigured
from .pools import ManagedPingingPool, ManagedTransactionPingingPool

__all__ = ["Pinger"]

logger = logging.getLogger(__name__)

#: First and longest sleep between passes while a pass keeps failing (an outage).
FIRST_BACKOFF = 0.25
MAX_BACKOFF = 2.0
#: Longest sleep between passes while the server refuses the pool's settings.
MISCONFIGURED_BACKOFF = 60.0


class Pinger:
    """One daemon thread per pool manager; ``stop()`` returns within a second."""

    def __init__(
        self,
        pool: ManagedPingingPool | ManagedTransactionPingingPool,
        *,
        name: str,
        interval: float,
        log: logging.Logger | logging.LoggerAdapter[Any] = logger,
        probe: Callable[[], bool] | None = None,
        on_pass: Callable[[], None] | None = None,
        on_exit: Callable[[], None] | None = None,
    ) -> None:
        self._pool = pool
        self._probe = probe
        self._on_exit = on_exit
        self._interval = interval
        self._log = log
        self._on_pass = on_pass
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        # Held for a whole pass; fork() waits for it so that no thread of ours is inside
        # gRPC at fork time (gRPC skips its fork handlers then, and the child can crash).
        self._pass_lock = threading.Lock()
        self.last_error: BaseException | None = None
        self.passes = 0

    @property
    def name(self) -> str:
        return self._thread.name

    def start(self) -> None:
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def wake(self) -> None:
        """Run a pass now instead of at the next due time."""
        self._wake.set()

    def pause(self, timeout: float = 5.0) -> bool:
        """Wait for the current pass to end and hold off the next one (before ``fork()``)."""
        return self._pass_lock.acquire(timeout=timeout)

    def resume(self) -> None:
        self._pass_lock.release()

    def stop(self, timeout: float = 1.0) -> bool:
        """Ask the loop to end and wait up to ``timeout`` seconds for it; True once it ended.

        A pass checks for the stop between sessions, so this waits for one RPC at most.
        """
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            if self._on_exit is not None:
                self._on_exit()

    def _loop(self) -> None:
        backoff = 0.0
        # open() already logged the pool's setup error, if it had one: not again.
        reported = str(self._pool.setup_error) if self._pool.setup_error else None
        while not self._stop.is_set():
            try:
                with self._pass_lock:
                    if self._stop.is_set():
                        return
                    self.run_pass()
            except PoolMisconfigured as exc:
                self.last_error = exc
                self._pool.counters.add(ping_errors=1)
                backoff = min(max(backoff * 2, 1.0), MISCONFIGURED_BACKOFF)
                if str(exc) != reported:  # once per distinct problem, not every retry
                    reported = str(exc)
                    self._log.error("%s; retrying every %gs at most", exc, MISCONFIGURED_BACKOFF)
                self._sleep(backoff)
                continue
            except Exception as exc:  # noqa: BLE001 - the pinger must survive anything
                self.last_error = exc
                self._pool.counters.add(ping_errors=1)
                backoff = min(max(backoff * 2, FIRST_BACKOFF), MAX_BACKOFF)
                self._log.warning(
                    "pinger pass failed (%s: %s); retrying in %.2fs",
                    type(exc).__name__,
                    exc,
                    backoff,
                )
                self._sleep(backoff)
                continue
            if backoff:
                self._log.warning("pinger recovered")
            backoff = 0.0
            reported = None
            self.last_error = None
            due = self._pool.seconds_until_due()
            self._sleep(self._interval if due is None else min(due, self._interval))

    def run_pass(self) -> None:
        """Probe if Spanner looked down; replenish, rotate, ping, begin pending transactions."""
        if self._probe is not None and not self._probe():
            raise ConnectionError("Spanner is still unreachable (probe failed)")
        self._pool.replenish()
        self._pool.rotate()
        self._pool.ping()
        if isinstance(self._pool, ManagedTransactionPingingPool):
            self._pool.begin_pending_transactions()
        self.passes += 1
        if self._on_pass is not None:
            self._on_pass()

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + max(seconds, 0.01)
        while not self._stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if self._wake.wait(remaining):
                self._wake.clear()
                return

"""The background pinger: a loop around the pool's maintenance, unlike the docs' recipe.

``threading.Thread(target=pool.ping)`` runs one pass and exits. This one loops until stopped
(on a :class:`~spanner_pools.worker.PeriodicWorker`), sleeping until the next session is due;
each pass re-creates missing sessions, rotates old ones, pings idle ones (and calls
``begin_pending_transactions()`` for ``transaction_pinging``). A failed pass is retried with
a backoff like the breaker's (0.25 s doubling to 2 s), so missing sessions come back within seconds
of Spanner answering; settings the server refused
(:class:`~spanner_pools.errors.PoolMisconfigured`) are logged once and retried slowly (up to
``MISCONFIGURED_BACKOFF``), in case the database is created later. Passes are traced as
``spanner_pools.ping_pass`` when tracing is on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from . import tracing
from .errors import PoolMisconfigured
from .pools import ManagedPool, ManagedTransactionPingingPool
from .worker import PeriodicWorker

__all__ = ["Pinger"]

logger = logging.getLogger(__name__)

#: First and longest sleep between passes while a pass keeps failing (an outage).
FIRST_BACKOFF = 0.25
MAX_BACKOFF = 2.0
#: Longest sleep between passes while the server refuses the pool's settings.
MISCONFIGURED_BACKOFF = 60.0
#: Counters whose growth during a pass is recorded on its span.
PASS_ATTRIBUTES = ("pings", "sessions_created", "sessions_rotated", "sessions_replaced")


class Pinger:
    """One daemon thread per pool; ``stop()`` waits for one RPC at most."""

    def __init__(
        self,
        pool: ManagedPool,
        *,
        name: str,
        interval: float,
        log: logging.Logger | logging.LoggerAdapter[Any] = logger,
        probe: Callable[[], bool] | None = None,
        on_pass: Callable[[], None] | None = None,
        on_exit: Callable[[], None] | None = None,
        span_attributes: Mapping[str, Any] | None = None,
    ) -> None:
        self._pool = pool
        self._probe = probe
        self._interval = interval
        self._log = log
        self._on_pass = on_pass
        self._span_attributes = dict(span_attributes or {})
        self._worker = PeriodicWorker(name, self._step, on_exit=on_exit)
        self._backoff = 0.0
        self._reported: str | None = None
        self.last_error: BaseException | None = None
        self.passes = 0

    @property
    def name(self) -> str:
        return self._worker.name

    def start(self) -> None:
        # open() already logged the pool's setup error, if it had one: not again.
        setup_error = self._pool.setup_error
        self._reported = str(setup_error) if setup_error is not None else None
        self._worker.start()

    def is_alive(self) -> bool:
        return self._worker.is_alive()

    def wake(self) -> None:
        """Run a pass now instead of at the next due time."""
        self._worker.wake()

    def pause(self, timeout: float = 5.0) -> bool:
        """Wait for the current pass to end and hold off the next one (before ``fork()``)."""
        return self._worker.pause(timeout)

    def resume(self) -> None:
        self._worker.resume()

    def stop(self, timeout: float = 1.0) -> bool:
        """Ask the loop to end and wait up to ``timeout`` seconds; True once it ended."""
        return self._worker.stop(timeout)

    def _step(self) -> float:
        """One pass and the seconds until the next: backoff after a failure, else the due time."""
        try:
            self._traced_pass()
        except PoolMisconfigured as exc:
            self._failed(exc)
            self._backoff = min(max(self._backoff * 2, 1.0), MISCONFIGURED_BACKOFF)
            if str(exc) != self._reported:  # once per distinct problem, not every retry
                self._reported = str(exc)
                self._log.error("%s; retrying every %gs at most", exc, MISCONFIGURED_BACKOFF)
            return self._backoff
        except Exception as exc:  # noqa: BLE001 - the pinger must survive anything
            self._failed(exc)
            self._backoff = min(max(self._backoff * 2, FIRST_BACKOFF), MAX_BACKOFF)
            self._log.warning(
                "pinger pass failed (%s: %s); retrying in %.2fs",
                type(exc).__name__,
                exc,
                self._backoff,
            )
            return self._backoff
        if self._backoff:
            self._log.warning("pinger recovered")
        self._backoff = 0.0
        self._reported = None
        self.last_error = None
        due = self._pool.seconds_until_due()
        return self._interval if due is None else min(due, self._interval)

    def _failed(self, exc: BaseException) -> None:
        self.last_error = exc
        self._pool.counters.add(ping_errors=1)

    def _traced_pass(self) -> None:
        if not tracing.enabled():
            self.run_pass()
            return
        counters = self._pool.counters
        before = counters.snapshot()
        with tracing.span("spanner_pools.ping_pass", self._span_attributes) as span:
            try:
                self.run_pass()
            finally:
                if span is not None:
                    after = counters.snapshot()
                    for key in PASS_ATTRIBUTES:
                        span.set_attribute(f"spanner_pools.{key}", int(after[key] - before[key]))

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

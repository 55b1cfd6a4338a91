"""Lending one process's sessions to handles: the loans (so ``in_use`` is counted from them and
is never negative), checkout tracing and counting, leak watching, the return of sessions
whose handle was dropped, and at close the deletion of sessions never given back (a server
that cancelled its requests). One :class:`Lending` per process; a forked child makes its own.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from . import tracing
from .backends import Backend
from .errors import PoolClosed, PoolUnavailable
from .handle import Loan
from .leaks import LeakWatcher, caller_stack
from .settings import SpannerSettings
from .stats import PoolCounters

__all__ = ["Lending"]


class Lending:
    """The :class:`~spanner_pools.handle.Lender` of one process's pool.

    ``open_backend()`` opens the pool lazily and returns its backend; ``current_backend()``
    returns it without opening (the retired one after close, for late returns);
    ``checked_out(waited)``, ``returned()`` and ``gauges_changed()`` are the manager's hooks.
    """

    def __init__(
        self,
        *,
        alias: str,
        settings: SpannerSettings,
        counters: PoolCounters,
        log: logging.Logger | logging.LoggerAdapter[Any],
        open_backend: Callable[[], Backend],
        current_backend: Callable[[], Backend | None],
        checked_out: Callable[[float], None],
        returned: Callable[[], None],
        gauges_changed: Callable[[], None],
        span_attributes: dict[str, Any],
    ) -> None:
        self.alias = alias
        self.pid = os.getpid()
        self._settings = settings
        self._counters = counters
        self._log = log
        self._open_backend = open_backend
        self._current_backend = current_backend
        self._checked_out = checked_out
        self._returned = returned
        self._gauges_changed = gauges_changed
        self._span_attributes = span_attributes
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)  # notified when a loan ends
        self._loans: set[Loan] = set()
        self._watcher: LeakWatcher | None = None
        self._closed = False

    @property
    def in_use(self) -> int:
        return len(self._loans)

    def loans(self) -> list[Loan]:
        with self._lock:
            return list(self._loans)

    def _ours(self, loan: Loan) -> bool:
        return self.pid == os.getpid() and loan in self._loans

    # -- the Lender interface --------------------------------------------------------------------

    def lend(self) -> Loan:
        """Lend a session to a handle: traced, counted, observed and watched for leaks."""
        with tracing.span("spanner_pools.checkout", self._span_attributes) as span:
            backend = self._open_backend()
            start = time.monotonic()
            session = backend.get(self._settings.pool_timeout)
            waited = time.monotonic() - start
            if span is not None:
                span.set_attribute("spanner_pools.wait_seconds", waited)
        loan = Loan(session)
        watch = self._settings.leak_timeout is not None
        if watch:
            loan.checked_out_at = time.monotonic()
            loan.checkout_stack = caller_stack()
        with self._lock:
            self._loans.add(loan)
            in_use = len(self._loans)
        did_wait = waited > 0.001 and backend.waits  # the others never wait for a session
        self._counters.checked_out(waited, did_wait=did_wait, in_use=in_use)
        if watch:
            self._watch_leaks()
        self._checked_out(waited)
        return loan

    def give_back(self, loan: Loan) -> None:
        """Return a loan's session to the pool it came from (deleted if that pool closed)."""
        if not self._ours(loan):
            return  # a handle from the parent, or returned already: not ours to return
        if self._settle(loan):  # else close() deleted it already (see reclaim)
            backend = self._current_backend()
            if backend is not None:
                backend.put(loan.session)
        self._forget(loan)  # only now: close() waits for it before closing the channel
        self._returned()
        self._gauges_changed()

    def renew(self, loan: Loan) -> None:
        """A new session for the loan's one, which the server lost; on failure the loan is
        returned (the handle then holds none)."""
        try:
            backend = self._open_backend()
            new = backend.replace(loan.session)
        except Exception:
            self._forget(loan)
            raise
        finally:
            self._gauges_changed()
        with self._lock:
            loan.session = new
            reclaimed = loan.settled
        if reclaimed:  # close() deleted the old session meanwhile: the new one is nobody's
            backend.put(new)  # the pool is closed: deleted
            self._forget(loan)
            raise PoolClosed(f"Spanner pool {self.alias!r} is closed")

    def abandoned(self, loan: Loan) -> None:
        """A handle was garbage collected without ``close()``: give its session back.

        Runs from the garbage collector, possibly while this thread holds a pool lock, so
        the return happens in a short-lived thread of its own.
        """
        if not self._ours(loan):
            return
        # RuntimeError: the interpreter is shutting down; atexit's close() deletes it.
        with contextlib.suppress(RuntimeError):
            threading.Thread(
                target=self._return_abandoned, args=(loan,), name="spanner-pools-gc", daemon=True
            ).start()

    def _return_abandoned(self, loan: Loan) -> None:
        self._log.warning(
            "a SessionHandle was garbage collected without close(); its session was returned "
            "(use `with manager.handle() as handle:` or close it)%s",
            f"; checked out at:\n{loan.checkout_stack}" if loan.checkout_stack else "",
        )
        self.give_back(loan)

    def unavailable(self, exc: BaseException) -> PoolUnavailable:
        """Count a transport failure of a request; the ``PoolUnavailable`` to raise for it."""
        self._counters.add(transport_errors=1)
        return PoolUnavailable(f"Spanner is unreachable: {type(exc).__name__}: {exc}")

    def counted_unavailable(self, exc: PoolUnavailable) -> None:
        """Count a ``PoolUnavailable`` (fail-fast, no session) on its way to a request."""
        self._counters.add(transport_errors=1)

    def _settle(self, loan: Loan) -> bool:
        """Claim the loan's session for giving back: True for the first caller only."""
        with self._lock:
            first = not loan.settled
            loan.settled = True
            return first

    def _forget(self, loan: Loan) -> None:
        with self._lock:
            self._loans.discard(loan)
            self._counters.set_in_use(len(self._loans))
            self._settled.notify_all()

    # -- closing --------------------------------------------------------------------------------

    def reclaim(self, backend: Backend, deadline: float) -> int:
        """At close (the backend already stopped): wait until ``deadline`` (monotonic) for the
        lent sessions to come back, then delete the ones still lent; how many.

        A server that cancels its requests at stop (daphne) never returns the sessions of
        their still-running views, and the process is about to exit: left lent, they would
        stay on Spanner for an hour. Deleted here once (the handle's later return is a no-op);
        their handles then get ``NotFound``, and :class:`PoolClosed` for the replacement.
        The loans stay counted in ``in_use`` until their handles let go, so the channel stays
        open for the RPCs they may still be running.
        """
        with self._lock:
            while any(not loan.settled for loan in self._loans):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._settled.wait(left)
            loans = [loan for loan in self._loans if not loan.settled]
            for loan in loans:
                loan.settled = True
            sessions = [loan.session for loan in loans]
        if not sessions:
            return 0
        self._log.warning(
            "closing with %d session(s) still lent out when the wait for them ended: deleting "
            "them (their requests get PoolClosed)",
            len(sessions),
        )
        for session in sessions:
            try:
                backend.put(session)  # stopped: deleted on the server, counted
            except Exception as exc:  # noqa: BLE001 - closing must finish
                self._log.warning("could not delete a lent session: %s", exc)
        self._gauges_changed()
        return len(sessions)

    # -- leak detection -------------------------------------------------------------------------

    def _watch_leaks(self) -> None:
        """Make sure the leak watcher runs, and make it look at the new loan."""
        limit = self._settings.leak_timeout
        watcher = self._watcher
        if watcher is None and limit is not None:
            with self._lock:
                watcher = self._watcher
                if watcher is None:
                    if self._closed:
                        return
                    watcher = self._watcher = LeakWatcher(
                        f"spanner-pools-leaks:{self.alias}:{self._settings.database}",
                        limit=limit,
                        loans=self.loans,
                        counters=self._counters,
                        log=self._log,
                    )
                    watcher.start()
        if watcher is not None:
            watcher.poke()

    @property
    def leak_watcher_alive(self) -> bool:
        return self._watcher is not None and self._watcher.is_alive()

    def close(self) -> None:
        """Stop the leak watcher; sessions still lent are deleted when they come back."""
        with self._lock:
            self._closed = True
            watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.stop()

"""The request-scoped session handle: one pooled session, lent on first use, returned once.

Everything runs on the pooled session itself (session-level APIs), because
``Database.snapshot()``/``run_in_transaction()``/``batch()`` use the multiplexed session and
ignore the pool. When the server has lost the session ("Session not found" naming it), the
handle swaps it for a new one and retries the operation once. Transport failures (UNAVAILABLE,
deadline exceeded) surface as :class:`PoolUnavailable`, which the adapters answer with a 503.

A handle holds at most one session whatever its threads do, and one dropped without
``close()`` gives its session back when it is garbage collected (with a warning).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from google.cloud.spanner_v1.batch import Batch
from google.cloud.spanner_v1.session import Session
from google.cloud.spanner_v1.snapshot import Snapshot

from . import _compat
from .errors import HandleClosed, PoolClosed, PoolUnavailable
from .faults import TRANSPORT_ERRORS, is_session_not_found

__all__ = ["Lender", "Loan", "SessionHandle"]

T = TypeVar("T")


class Loan:
    """One session lent to one handle, and what the leak watcher reports about it.

    Holds no reference to the handle, so a dropped handle can be garbage collected and its
    loan returned.
    """

    __slots__ = (
        "session",
        "settled",
        "checked_out_at",
        "thread_name",
        "checkout_stack",
        "leak_reported",
    )

    def __init__(self, session: Session) -> None:
        self.session = session
        #: Set once, by whoever gives the session back to the pool: the handle's return or,
        #: after the grace at close, the lender deleting it (then the handle's return is a no-op).
        self.settled = False
        self.checked_out_at: float | None = None
        self.thread_name = threading.current_thread().name
        self.checkout_stack: str | None = None
        self.leak_reported = False


class Lender(Protocol):
    """What a handle needs of its pool manager."""

    alias: str

    def lend(self) -> Loan:
        """Check a session out (may wait; raises a ``PoolError`` when none can be had)."""

    def give_back(self, loan: Loan) -> None:
        """Return the loan's session; harmless for a loan already returned."""

    def renew(self, loan: Loan) -> None:
        """Replace the loan's lost session in place; on failure the loan is returned."""

    def abandoned(self, loan: Loan) -> None:
        """A handle was garbage collected while holding ``loan``."""

    def unavailable(self, exc: BaseException) -> PoolUnavailable:
        """Count a transport failure and say what it means."""

    def counted_unavailable(self, exc: PoolUnavailable) -> None:
        """Count a ``PoolUnavailable`` raised on its way to the caller."""


class SessionHandle:
    """A pooled session for one request (or one ``with`` block).

    Nothing is checked out until the first operation, so a request that never touches
    Spanner costs nothing. ``close()`` returns the session exactly once; a closed handle
    raises :class:`HandleClosed` when used.
    """

    def __init__(self, manager: Lender) -> None:
        self._manager = manager
        self._lock = threading.Lock()
        self._loan: Loan | None = None
        self._last: Loan | None = None  # kept after close for leak_reported/checkout_stack
        self._finalizer: weakref.finalize[Any, SessionHandle] | None = None
        self._closed = False

    # -- life cycle --------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def checked_out(self) -> bool:
        """True while this handle holds a pooled session."""
        return self._loan is not None

    @property
    def session(self) -> Session:
        """The raw pooled ``Session`` (checked out now if it was not yet)."""
        return self._checkout()

    @property
    def leak_reported(self) -> bool:
        """True once the leak watcher reported this handle's session (``LEAK_TIMEOUT``)."""
        return self._last is not None and self._last.leak_reported

    @property
    def checkout_stack(self) -> str | None:
        """Where the session was checked out (recorded only with ``LEAK_TIMEOUT``)."""
        return self._last.checkout_stack if self._last is not None else None

    def _checkout(self) -> Session:
        loan = self._loan
        if loan is not None and not self._closed:
            if loan.settled:  # the pool closed and deleted it (see Lending.reclaim)
                raise PoolClosed(
                    f"Spanner pool {self._manager.alias!r} is closed; it deleted this "
                    "handle's session"
                )
            return loan.session
        with self._lock:
            if self._closed:
                raise HandleClosed(
                    "this SessionHandle was closed; get a new one: spanner.handle (Flask), "
                    "request.spanner (Django) or manager.handle()"
                )
            if self._loan is None:
                try:
                    loan = self._manager.lend()
                except PoolUnavailable as exc:
                    self._manager.counted_unavailable(exc)
                    raise
                self._loan = self._last = loan
                self._finalizer = weakref.finalize(self, self._manager.abandoned, loan)
            return self._loan.session

    def close(self) -> None:
        """Return the session to the pool (once); harmless to call again."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            loan, self._loan = self._loan, None
            if self._finalizer is not None:
                self._finalizer.detach()
                self._finalizer = None
        if loan is not None:
            self._manager.give_back(loan)

    def __enter__(self) -> SessionHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("checked out" if self._loan else "idle")
        return f"<SessionHandle {self._manager.alias!r} {state}>"

    # -- running operations ------------------------------------------------------------------

    def _renew(self, session: Session) -> Session:
        """Swap a session the server lost (once, whichever thread saw it first)."""
        with self._lock:
            loan = self._loan
            if loan is None or self._closed:
                raise HandleClosed("this SessionHandle was closed while its session was lost")
            if loan.session is session:
                try:
                    self._manager.renew(loan)
                except BaseException:
                    self._loan = None  # the manager took the loan back
                    if self._finalizer is not None:
                        self._finalizer.detach()
                    raise
            return loan.session

    def _run(self, operation: Callable[[Session], T]) -> T:
        """Run ``operation`` on the pooled session, replacing a lost session once."""
        session = self._checkout()
        try:
            try:
                return operation(session)
            except Exception as exc:
                if not is_session_not_found(exc, session.session_id):
                    raise
            return operation(self._renew(session))
        except TRANSPORT_ERRORS as exc:
            raise self._manager.unavailable(exc) from exc
        except PoolUnavailable as exc:
            self._manager.counted_unavailable(exc)
            raise

    def execute_sql(
        self,
        sql: str,
        params: dict[str, Any] | None = None,
        param_types: dict[str, Any] | None = None,
        **kw: Any,
    ) -> list[list[Any]]:
        """Run a query in a single-use read-only snapshot and return all rows as lists."""

        def query(session: Session) -> list[list[Any]]:
            rows = session.snapshot().execute_sql(sql, params=params, param_types=param_types, **kw)
            return [list(row) for row in rows]

        return self._run(query)

    def execute_update(
        self,
        dml: str,
        params: dict[str, Any] | None = None,
        param_types: dict[str, Any] | None = None,
        **kw: Any,
    ) -> int:
        """Run one DML statement in its own read-write transaction; returns the row count."""
        return int(
            self.run_in_transaction(
                lambda tx: tx.execute_update(dml, params=params, param_types=param_types, **kw)
            )
        )

    def run_in_transaction(self, func: Callable[..., T], *args: Any, **kw: Any) -> T:
        """``Session.run_in_transaction`` on the pooled session (the client retries aborts)."""

        def transaction(session: Session) -> T:
            result: T = session.run_in_transaction(func, *args, **kw)
            return result

        return self._run(transaction)

    @contextmanager
    def snapshot(self, **kw: Any) -> Iterator[Snapshot]:
        """A read-only ``Snapshot`` on the pooled session (``multi_use=True`` allowed).

        Reads inside the block cannot be replayed, so a lost session is replaced for the
        next operation and the ``NotFound`` is raised.
        """
        session = self._checkout()
        try:
            yield session.snapshot(**kw)
        except TRANSPORT_ERRORS as exc:
            raise self._manager.unavailable(exc) from exc
        except PoolUnavailable as exc:
            self._manager.counted_unavailable(exc)
            raise
        except Exception as exc:
            if is_session_not_found(exc, session.session_id) and self._loan is not None:
                self._renew(session)
            raise

    @contextmanager
    def batch(self, **commit_kw: Any) -> Iterator[Batch]:
        """A mutation ``Batch`` committed when the block ends without an error."""
        session = self._checkout()
        batch = session.batch()
        yield batch

        def commit(current: Session) -> None:
            target = batch if current is session else current.batch()
            if target is not batch:
                _compat.copy_mutations(batch, target)
            target.commit(**commit_kw)

        self._run(commit)

"""The request-scoped session handle: one pooled session, lent on first use, returned once.

Everything runs on the pooled session itself (session-level APIs), because
``Database.snapshot()``/``run_in_transaction()``/``batch()`` use the multiplexed session and
ignore the pool. When the server has lost the session ("Session not found"), the handle swaps
it for a new one and retries the operation once. Transport failures (UNAVAILABLE, deadline
exceeded) surface as :class:`PoolUnavailable`, which the adapters answer with a 503.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from google.api_core.exceptions import DeadlineExceeded, RetryError, ServiceUnavailable
from google.cloud.spanner_v1.batch import Batch
from google.cloud.spanner_v1.session import Session
from google.cloud.spanner_v1.snapshot import Snapshot

from .errors import HandleClosed, PoolUnavailable
from .pools import is_session_not_found

if TYPE_CHECKING:
    from .manager import PoolManager

__all__ = ["SessionHandle"]

T = TypeVar("T")

#: Errors that mean Spanner could not be reached, not that the request was wrong.
TRANSPORT_ERRORS = (ServiceUnavailable, DeadlineExceeded, RetryError)


class SessionHandle:
    """A pooled session for one request (or one ``with`` block).

    Nothing is checked out until the first operation, so a request that never touches
    Spanner costs nothing. ``close()`` returns the session exactly once; a closed handle
    raises :class:`HandleClosed` when used.
    """

    def __init__(self, manager: PoolManager) -> None:
        self._manager = manager
        self._session: Session | None = None
        self._closed = False
        # Leak detection (set by the manager at checkout when LEAK_TIMEOUT is on).
        self.checked_out_at: float | None = None
        self.checkout_stack: str | None = None
        self.leak_reported = False
        self.thread_name = threading.current_thread().name

    # -- life cycle --------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def checked_out(self) -> bool:
        """True while this handle holds a pooled session."""
        return self._session is not None

    @property
    def session(self) -> Session:
        """The raw pooled ``Session`` (checked out now if it was not yet)."""
        return self._checkout()

    def _checkout(self) -> Session:
        if self._closed:
            raise HandleClosed(
                "this SessionHandle was closed; get a new one from manager.session()"
            )
        if self._session is None:
            self._session = self._manager._checkout(self)
        return self._session

    def close(self) -> None:
        """Return the session to the pool (once); harmless to call again."""
        if self._closed:
            return
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            self._manager._checkin(self, session)

    def __enter__(self) -> SessionHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("checked out" if self._session else "idle")
        return f"<SessionHandle {self._manager.alias!r} {state}>"

    # -- running operations ------------------------------------------------------------------

    def _renew(self, session: Session) -> Session:
        """Swap a session the server lost; the slot is released if that fails."""
        self._session = None
        self._session = self._manager._replace(self, session)
        return self._session

    def _run(self, operation: Callable[[Session], T]) -> T:
        """Run ``operation`` on the pooled session, replacing a lost session once."""
        session = self._checkout()
        try:
            try:
                return operation(session)
            except Exception as exc:
                if not is_session_not_found(exc):
                    raise
            return operation(self._renew(session))
        except TRANSPORT_ERRORS as exc:
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: BaseException) -> PoolUnavailable:
        self._manager.counters.add(transport_errors=1)
        return PoolUnavailable(f"Spanner is unreachable: {type(exc).__name__}: {exc}")

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
            raise self._unavailable(exc) from exc
        except Exception as exc:
            if is_session_not_found(exc) and self._session is session:
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
            target._mutations = batch._mutations
            target.commit(**commit_kw)

        self._run(commit)

"""Every use of google-cloud-spanner DB-API internals, in one place.

The ORMs reach Spanner through ``google.cloud.spanner_dbapi.Connection``, which takes its
sessions from ``database._sessions_manager`` (the multiplexed session) and clears the pool on
``close()``. :class:`PooledConnection` replaces exactly those steps so that every session comes
from a :class:`~spanner_pools.PoolManager` handle. Each private name used below says why; every
one was checked against google-cloud-spanner 3.56.0 and 3.71.0 (the ``Connection`` attributes
and the methods overridden here are the same in both; the comments name 3.71.0's code).
The manager is described by :class:`SessionSource`, so this module imports nothing above it.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol, TypeVar

from google.cloud.spanner_dbapi.connection import Connection
from google.cloud.spanner_dbapi.cursor import Cursor
from google.cloud.spanner_v1.database import Database
from google.cloud.spanner_v1.session import Session
from google.cloud.spanner_v1.snapshot import Snapshot

from ..faults import is_session_not_found
from . import database_instance

__all__ = ["PooledConnection", "PooledCursor", "PooledDatabase", "SessionSource"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class _Handle(Protocol):
    """What this module uses of a :class:`~spanner_pools.SessionHandle`."""

    @property
    def session(self) -> Session: ...

    def close(self) -> None: ...

    def __enter__(self) -> _Handle: ...

    def __exit__(self, *exc_info: object) -> None: ...

    def execute_sql(self, sql: str) -> Any: ...

    def run_in_transaction(self, func: Callable[..., T], *args: Any, **kw: Any) -> T: ...

    def snapshot(self, **kw: Any) -> AbstractContextManager[Snapshot]: ...


class _Named(Protocol):
    @property
    def database(self) -> str: ...


class SessionSource(Protocol):
    """What this module uses of a :class:`~spanner_pools.PoolManager` (described here rather
    than imported, so that the compatibility layer stays below the manager)."""

    @property
    def alias(self) -> str: ...

    @property
    def settings(self) -> _Named: ...

    @property
    def database(self) -> Database: ...

    def handle(self) -> _Handle: ...


class PooledDatabase:
    """This process's ``Database`` as the DB-API sees it, with reads and autocommit writes
    run on a session lent by the manager instead of the client's multiplexed session.

    The DB-API calls ``database.snapshot()`` for autocommit queries and
    ``database.run_in_transaction()`` for autocommit DML (spanner_dbapi/cursor.py 3.71.0);
    everything else (``update_ddl``, ``batch_snapshot``, names) goes to the real ``Database``,
    looked up on every call so that a connection kept across ``fork()`` uses the child's.
    """

    def __init__(self, manager: SessionSource) -> None:
        self._manager = manager

    @contextmanager
    def snapshot(self, **kw: Any) -> Iterator[Snapshot]:
        """A single-use snapshot on a pooled session, returned when the block ends."""
        with self._manager.handle() as handle, handle.snapshot(**kw) as snapshot:
            yield snapshot

    def run_in_transaction(self, func: Callable[..., T], *args: Any, **kw: Any) -> T:
        """A read-write transaction on a pooled session (aborts retried by the client)."""
        with self._manager.handle() as handle:
            return handle.run_in_transaction(func, *args, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._manager.database, name)

    def __repr__(self) -> str:
        return f"<PooledDatabase {self._manager.alias!r} {self._manager.settings.database}>"


class PooledCursor(Cursor):  # type: ignore[misc]  # the DB-API is untyped
    """A DB-API cursor that tells its connection when the server lost the session."""

    connection: PooledConnection

    def execute(self, sql: str, args: Any = None) -> Any:
        try:
            return super().execute(sql, args)
        except Exception as exc:
            self.connection._note_error(exc)
            raise

    def executemany(self, operation: str, seq_of_params: Any) -> Any:
        try:
            return super().executemany(operation, seq_of_params)
        except Exception as exc:
            self.connection._note_error(exc)
            raise


class PooledConnection(Connection):  # type: ignore[misc]  # the DB-API is untyped
    """A ``spanner_dbapi.Connection`` whose sessions are lent through a ``PoolManager``.

    A session is checked out when a transaction (or multi-use read-only snapshot) first needs
    one and returned when it commits or rolls back, so an idle connection kept by an ORM's
    connection pool holds no session. ``close()`` never clears the shared pool. A connection
    inherited over ``fork()`` forgets the parent's transaction and session without using them.
    """

    # Attributes of Connection (3.71.0) this class reads and resets.
    _session: Session | None
    _transaction: Any
    _snapshot: Any
    _spanner_transaction_started: bool

    def __init__(self, manager: SessionSource, **kwargs: Any) -> None:
        self._manager = manager
        self._pooled_database = PooledDatabase(manager)
        self._handle: _Handle | None = None
        self._session_lost = False
        self._pid = os.getpid()
        #: The process that made this connection (an ORM pool drops it in any other).
        self.owner_pid = self._pid
        # Connection.__init__ (3.71.0) sets the private state it relies on; instance and
        # database are properties here, resolved through the manager.
        super().__init__(None, None, **kwargs)
        # close() clears database._sessions_manager._pool when _own_pool is True (3.71.0).
        self._own_pool = False

    # -- where the DB-API finds its database ------------------------------------------------

    @property
    def manager(self) -> SessionSource:
        """The manager this connection borrows sessions from."""
        return self._manager

    @property
    def database(self) -> PooledDatabase:
        """The manager's ``Database`` of this process (see :class:`PooledDatabase`)."""
        self._forget_parent()
        return self._pooled_database

    @property
    def instance(self) -> Any:
        """The ``Instance`` of the manager's ``Database`` in this process."""
        return database_instance(self._manager.database)

    # -- sessions: overrides of Connection._session_checkout/_release_session (3.71.0) -------

    def _session_checkout(self) -> Session:
        """The session of the current transaction, lent by the manager on first need."""
        self._forget_parent()
        if self._session is None:
            handle = self._manager.handle()
            try:
                self._session = handle.session
            except BaseException:
                handle.close()
                raise
            self._handle = handle
        session: Session = self._session
        return session

    def snapshot_checkout(self) -> Snapshot | None:
        """The read-only transaction's multi-use snapshot, begun inline with its first query.

        Connection.snapshot_checkout (3.71.0) calls ``Snapshot.begin()``, a BeginTransaction
        RPC; a multi-use ``Snapshot`` without it begins with its first ``execute_sql`` (3.71.0
        builds ``TransactionSelector(begin=...)``), so a read-only transaction of one query
        is one RPC.
        """
        if self.read_only and self._client_transaction_started:
            if not self._spanner_transaction_started:
                self._snapshot = Snapshot(
                    self._session_checkout(), multi_use=True, **self.staleness
                )
                self._transaction = None
                self._spanner_transaction_started = True
            snapshot: Snapshot = self._snapshot
            return snapshot
        return None

    def cursor(self) -> PooledCursor:
        """A new cursor (Connection.cursor in 3.71.0 only checks that we are open)."""
        if self.is_closed:
            from google.cloud.spanner_dbapi.exceptions import InterfaceError

            raise InterfaceError("Connection is already closed")
        return PooledCursor(self)

    def _note_error(self, exc: BaseException) -> None:
        session = self._session
        if is_session_not_found(exc, session.session_id if session is not None else None):
            self._session_lost = True

    def _release_session(self) -> None:
        """Give the transaction's session back (called after every commit and rollback).

        If the server lost it ("Session not found" from a statement, or from the commit
        that is failing right now: the DB-API releases in a ``finally``), a query through
        the handle first swaps it for a new session, so the dead one never returns to the
        pool. The transaction itself is not replayed: its error reaches the ORM.
        """
        self._forget_parent()
        handle, self._handle = self._handle, None
        session, self._session = self._session, None
        in_flight = sys.exc_info()[1]
        own_id = session.session_id if session is not None else None
        lost = self._session_lost or (
            in_flight is not None and is_session_not_found(in_flight, own_id)
        )
        self._session_lost = False
        if handle is None:
            return
        try:
            if lost:
                logger.warning("the server lost the session of a transaction; replacing it")
                handle.execute_sql("SELECT 1")  # the handle replaces a lost session and retries
        except Exception as exc:  # noqa: BLE001 - the slot is still returned
            logger.warning("could not replace a lost session: %s: %s", type(exc).__name__, exc)
        finally:
            handle.close()

    def close(self) -> None:
        """Roll back what is open, return the session, and mark the connection closed."""
        self._forget_parent()
        try:
            if self._spanner_transaction_started and not self._read_only:
                self._transaction.rollback()
        except Exception as exc:  # noqa: BLE001 - closing must finish and return the session
            logger.warning("rollback on close failed: %s: %s", type(exc).__name__, exc)
        finally:
            self._release_session()
            self._spanner_transaction_started = False
            self.is_closed = True

    def reset_state(self) -> None:
        """Return to a fresh connection's state, keeping ``autocommit`` (for Django)."""
        self.close()
        self.is_closed = False
        self._transaction = None
        self._snapshot = None
        # The DB-API's own per-transaction reset (3.71.0): retry helper, begin flags.
        self._transaction_helper.reset()
        self._transaction_begin_marked = False
        self._transaction_isolation_level = None

    def _forget_parent(self) -> None:
        """In a forked child: drop the parent's transaction and session, never touching them."""
        if self._pid == os.getpid():
            return
        self._pid = os.getpid()
        # The handle and session belong to the parent's pool: returning them here would put
        # a parent's session into this process's pool, so they are only dropped.
        self._handle = None
        self._session = None
        self._transaction = None
        self._snapshot = None
        self._spanner_transaction_started = False
        self._transaction_begin_marked = False
        self._transaction_helper.reset()

    def __repr__(self) -> str:
        state = "closed" if self.is_closed else ("in a transaction" if self._handle else "idle")
        return f"<PooledConnection {self._manager.alias!r} {state}>"

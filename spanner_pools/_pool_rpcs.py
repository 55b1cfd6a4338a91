"""The managed pool's own RPCs around its :class:`~spanner_pools.book.SessionBook`, each with a
short deadline: creating sessions (with ``LABELS`` and the database role), checking, pinging
and deleting them. A part of :class:`~spanner_pools.pools.ManagedPingingPool`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from google.api_core.exceptions import NotFound
from google.cloud.spanner_v1.session import Session

from . import _compat, _rpc
from .book import Pooled, SessionBook
from .errors import PoolMisconfigured
from .faults import classify_setup_error
from .stats import PoolCounters

__all__ = ["PoolRPCs", "PooledSession"]


class PooledSession(Session):
    """A pool's session. When the client's own code finds it gone (``exists()`` is False, as
    its ``SnapshotCheckout`` does after a ``NotFound``), the pool forgets it, so the
    replacement the client puts back is adopted into the freed slot."""

    lost: Callable[[Session], None] | None = None

    def exists(self) -> bool:
        found = bool(super().exists())
        if not found and self.lost is not None:
            self.lost(self)
        return found


class PoolRPCs:
    """The RPCs of the managed pools (a mixin: ``_ManagedPoolMixin.__init__`` and the client's
    pool class set the fields declared here)."""

    size: int
    default_timeout: float
    # Inherited from AbstractSessionPool, part of subclassing it (the client's own pools use
    # them the same way; checked on 3.56.0 and 3.71.0, see _compat): set by its __init__ and
    # our bind(), read by the RPCs here.
    _database: Any
    _database_role: str | None
    _labels: dict[str, str]
    log: logging.Logger | logging.LoggerAdapter[Any]
    book: SessionBook[Session]
    _rpc_timeout: float
    _ping_timeout: float
    counters: PoolCounters
    _replenishing: threading.Lock  # open() and the pinger may both replenish
    #: Settings the server refused (database not found, permission denied, ...), if any.
    setup_error: PoolMisconfigured | None

    def _create_sessions(self, count: int, *, reserved: int) -> list[Pooled[Session]]:
        """One BatchCreateSessions carrying ``LABELS`` and the database role, releasing
        ``reserved`` slots as the sessions are registered. May return fewer than ``count``."""
        try:
            response = _rpc.batch_create_sessions(
                self._database,
                count,
                labels=self._labels,
                database_role=self._database_role,
                timeout=self._rpc_timeout,
            )
        except Exception as exc:
            setup_error = classify_setup_error(exc)
            if setup_error is not None:
                self.setup_error = setup_error
            self.book.release(reserved)
            if setup_error is not None:
                raise setup_error from exc
            raise
        made, dropped = self.book.created(
            [
                (
                    _compat.session_with_id(self._new_session(), proto.name.rsplit("/", 1)[-1]),
                    proto.create_time,
                )
                for proto in response.session
            ],
            reserved=reserved,
        )
        self.setup_error = None
        self.counters.add(sessions_created=len(made), sessions_replaced=dropped)
        return made

    def _new_session(self) -> PooledSession:
        """A session object of this pool, not yet created (the client calls it too)."""
        database = self._database
        session = PooledSession(
            database=database,
            labels=dict(self._labels),
            database_role=self._database_role or database.database_role,
        )
        session.lost = self.forget
        return session

    def _create_one(self, *, reserved: int) -> Pooled[Session]:
        for _ in range(3):
            made = self._create_sessions(1, reserved=reserved)
            reserved = 0
            if made:
                return made[0]
        raise RuntimeError("BatchCreateSessions returned no session three times")

    def _check_session(self, session: Session) -> None:
        """GetSession: ``NotFound`` if the server lost the session or gave its ID away."""
        created = _rpc.get_session(self._database, session, timeout=self._ping_timeout)
        known = self.book.server_created(session)
        if known is not None and created != known:
            raise NotFound(f"Session not found: {session.name} was re-created by the server")

    def _keep_alive(self, session: Session) -> None:
        """Ping a session, or verify it if it has not been checked since an outage."""
        if self.book.is_unverified(session):
            self._check_session(session)
            self.book.verified(session)
        else:
            _rpc.ping(self._database, session, timeout=self._ping_timeout)

    def _safe_delete(self, session: Session) -> bool:
        """Delete a session (short deadline); log and return False on failure."""
        self.book.disown(session)
        try:
            _rpc.delete_session(self._database, session, timeout=self._rpc_timeout)
        except Exception as exc:  # noqa: BLE001 - shutdown must go on
            self.log.warning("could not delete session %s: %s", session.session_id, exc)
            return False
        self.counters.add(sessions_deleted=1)
        return True

    def _bury(self) -> None:
        """Delete what came back after close (request threads; the pinger leaves it to
        :meth:`clear`, which close() runs once the pinger stopped)."""
        for session in self.book.doomed(idle=False):
            self._safe_delete(session)

    def forget(self, session: Session) -> None:
        """The server lost ``session`` (found by someone else): free its slot."""
        if self.book.forget(session):
            self.counters.add(sessions_replaced=1)

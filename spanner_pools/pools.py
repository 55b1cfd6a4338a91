"""``PingingPool`` and ``TransactionPingingPool`` with the gaps of google-cloud-spanner closed.

The client's pools (3.71) are single-pass (``ping()`` returns at once), lose a session on any
ping error but ``NotFound``, pay a ``GetSession`` RPC on checkout whenever a ping is late, drop
``labels`` at ``bind()``, never rotate sessions before the server's 28-day limit, and give every
RPC the client's long default deadlines. The subclasses here keep the client's types (so
``isinstance(pool, PingingPool)`` holds) and override the behaviour:

* checkout makes no RPC (except once per session after an outage, to verify it) and serves
  waiters first come, first served; a stale session is replaced by the handle on ``NotFound``;
* every RPC of the pool has a short deadline (pings: ``PING_TIMEOUT``);
* a failed ping keeps the session; a missing one is re-created by :meth:`replenish`, and a
  slot being re-created is reserved, so the pool never holds more than ``size`` sessions
  (``size + 1`` during a rotation);
* sessions carry ``LABELS`` and are rotated before ``MAX_SESSION_AGE`` (new one first);
* pings and rotations are jittered so that workers started together spread out;
* once closed, every session that comes back or is created is deleted.

The ``AbstractSessionPool`` contract as the client's own code uses it (``Database(pool=...)``
with multiplexed sessions off) holds: a session the pool did not create is adopted into a free
slot or deleted, a session put back twice is refused with :class:`SessionReturnedTwice`, and
a ``get()`` timeout raises :class:`PoolExhausted`, which is also a ``queue.Empty``.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Union

from google.api_core.exceptions import NotFound
from google.cloud.spanner_v1.pool import PingingPool, TransactionPingingPool
from google.cloud.spanner_v1.session import Session

from . import _rpc
from ._pool_rpcs import PooledSession
from ._pool_upkeep import PoolUpkeep
from .book import SessionBook
from .errors import PoolExhausted, PoolMisconfigured, PoolUnavailable
from .faults import TRANSPORT_ERRORS
from .stats import PoolCounters

if TYPE_CHECKING:
    from google.cloud.spanner_v1.database import Database

#: Either managed pool class.
ManagedPool = Union["ManagedPingingPool", "ManagedTransactionPingingPool"]

__all__ = [
    "PING_TIMEOUT",
    "ManagedPingingPool",
    "ManagedPool",
    "ManagedTransactionPingingPool",
    "PooledSession",
]

logger = logging.getLogger(__name__)

#: Deadline of one ping, as in the Go client.
PING_TIMEOUT = _rpc.PING_TIMEOUT


class _ManagedPoolMixin(PoolUpkeep):
    """The behaviour shared by both pool classes: RPCs around a :class:`SessionBook`.

    Its RPCs live in :mod:`._pool_rpcs` and its maintenance in :mod:`._pool_upkeep`; the
    ``AbstractSessionPool`` contract (``bind``, ``get``, ``put``, ``clear``) is here."""

    #: The manager replaces it with its pool logger (alias, database and PID on every record).
    log: logging.Logger | logging.LoggerAdapter[Any] = logger

    def __init__(
        self,
        *,
        size: int,
        default_timeout: float,
        ping_interval: float,
        labels: dict[str, str] | None,
        database_role: str | None,
        max_session_age: float,
        rpc_timeout: float,
        counters: PoolCounters,
        ping_timeout: float = PING_TIMEOUT,
    ) -> None:
        # The client's class (next in the MRO) sets size, timeout, labels and role.
        super().__init__(  # type: ignore[call-arg]
            size=size,
            default_timeout=default_timeout,
            ping_interval=max(1, int(ping_interval)),
            labels=labels,
            database_role=database_role,
        )
        self.book: SessionBook[Session] = SessionBook(
            size, ping_interval=ping_interval, max_session_age=max_session_age
        )
        self._rpc_timeout = float(rpc_timeout)
        self._ping_timeout = min(float(ping_timeout), self._rpc_timeout)
        self.counters = counters
        self._replenishing = threading.Lock()  # open() and the pinger may both replenish
        #: Settings the server refused (database not found, permission denied, ...), if any.
        self.setup_error: PoolMisconfigured | None = None

    # -- the AbstractSessionPool contract --------------------------------------------------

    def bind(self, database: Database) -> None:
        """Attach the database, without an RPC: the sessions are created by :meth:`replenish`
        (the manager's ``open()``), once the database has the manager's channel. The client's
        ``Database()`` calls ``bind()`` while it is being built before 3.71, the client's own
        channel not yet replaced."""
        self._database = database
        self._database_role = self._database_role or database.database_role

    def get(self, timeout: float | None = None) -> Session:
        """Lend the least recently used idle session, waiting up to ``timeout`` seconds.

        Waiters are served in arrival order. Makes no RPC, except a GetSession for a session
        not verified since an outage. Raises :class:`PoolExhausted` after the timeout.
        """
        wait = self.default_timeout if timeout is None else timeout
        try:
            item = self.book.take(wait, self._no_session_error)
        except PoolExhausted:
            self.counters.add(timeouts=1)
            raise
        if self.book.is_unverified(item.session):
            return self._verified(item.session)
        return item.session

    def _no_session_error(self) -> Exception:
        if self.setup_error is not None:
            return self.setup_error
        return PoolUnavailable(
            "the pool holds no session: Spanner has not been reachable since it opened; "
            "the pinger keeps trying",
            retry_after=1,
        )

    def _verified(self, session: Session) -> Session:
        """Check a session lent for the first time since an outage; replace it if lost."""
        try:
            self._check_session(session)
        except NotFound:
            return self.replace(session)
        except TRANSPORT_ERRORS as exc:
            self.put(session)
            raise PoolUnavailable(f"Spanner is unreachable: {exc}") from exc
        except Exception:
            self.put(session)
            raise
        self.book.verified(session)
        return session

    def put(self, session: Session) -> None:
        """Take a session back. One the pool did not create is adopted into a free slot (or
        deleted); one already in the pool is refused; after :meth:`clear` it is deleted."""
        outcome = self.book.give_back(session)
        if outcome == "adopted":
            self.counters.add(sessions_created=1)
        elif outcome == "delete":
            self._safe_delete(session)
        self._bury()

    def mark_closed(self) -> None:
        """Stop lending: waiters get :class:`PoolClosed`; what comes back is deleted."""
        self.book.close()

    def clear(self) -> None:
        """Close the pool and delete every idle session on the server.

        Stops at the first failure: if Spanner is unreachable, waiting out a deadline per
        session would stall the worker's shutdown; the server drops the rest after an hour.
        """
        doomed = self.book.doomed(idle=True)
        for index, session in enumerate(doomed):
            if not self._safe_delete(session):
                self.log.warning(
                    "Spanner unreachable at close: %d session(s) left for the server to expire",
                    len(doomed) - index,
                )
                return


class ManagedPingingPool(_ManagedPoolMixin, PingingPool):
    """A :class:`PingingPool` driven by spanner-pools' pinger."""


class ManagedTransactionPingingPool(_ManagedPoolMixin, TransactionPingingPool):
    """A :class:`TransactionPingingPool` driven by spanner-pools' pinger.

    The client deprecated this class in 3.26: transactions now begin inline with their first
    statement, so there is nothing to begin ahead of time. It behaves exactly like
    :class:`ManagedPingingPool`; :meth:`begin_pending_transactions` has nothing to do.
    """

    def begin_pending_transactions(self) -> int:
        """Kept for the client's API: no session waits for a transaction any more."""
        return 0

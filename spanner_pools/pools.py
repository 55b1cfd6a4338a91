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
import math
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Union

from google.api_core.exceptions import NotFound
from google.cloud.spanner_v1.pool import PingingPool, TransactionPingingPool
from google.cloud.spanner_v1.session import Session

from . import _compat, _rpc
from .book import Pooled, SessionBook
from .errors import PoolClosed, PoolExhausted, PoolMisconfigured, PoolUnavailable
from .faults import TRANSPORT_ERRORS, classify_setup_error
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
#: How long a session whose ping failed waits before it is tried again.
RETRY_FAILED_PING_AFTER = 1.0


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


class _ManagedPoolMixin:
    """The behaviour shared by both pool classes: RPCs around a :class:`SessionBook`."""

    size: int
    default_timeout: float
    _database: Any
    _database_role: str | None
    _labels: dict[str, str]
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

    # -- RPCs, each with a deadline --------------------------------------------------------

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

    # -- the AbstractSessionPool contract --------------------------------------------------

    def bind(self, database: Database) -> None:
        """Attach the database and create every session now (one BatchCreateSessions)."""
        self._database = database
        self._database_role = self._database_role or database.database_role
        self.replenish()

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

    # -- maintenance, called by the pinger -------------------------------------------------

    def ping(self, force: bool = False) -> int:
        """One pass: ping every idle session whose ping is due (every idle one if ``force``);
        returns how many were pinged. Stops early once the pool is closed.

        ``NotFound`` replaces the session; any other error puts the session and every other
        due one back (so the pool never shrinks) and is raised for the pinger to back off.
        """
        due = self.book.due(math.inf if force else self.book.clock())
        pinged = 0
        for index, item in enumerate(due):
            if self.book.closed:  # the rest go to the graveyard, which clear() empties
                self.book.put_back(due[index:], 0.0)
                break
            try:
                pinged += self._refresh(item)
            except Exception:
                retry = min(self.book.interval, RETRY_FAILED_PING_AFTER)
                self.book.put_back(due[index:], self.book.clock() + retry)
                raise
        return pinged

    def _refresh(self, item: Pooled[Session]) -> bool:
        """Keep one idle session (taken off the heap) alive and put it back; True if so.

        ``NotFound`` replaces it (False). Other errors propagate; the caller puts it back.
        """
        try:
            self._keep_alive(item.session)
        except NotFound:
            reserved = self.book.disown_and_reserve(item.session)
            if reserved:
                new = self._create_one(reserved=reserved)
                self.counters.add(sessions_replaced=1)
                self.book.push([new])
            return False
        self.counters.add(pings=1)
        self.book.push([item], self.book.next_ping(self.book.clock()))
        return True

    def verify_all(self) -> None:
        """After an outage: check every session with GetSession before its next use."""
        self.book.verify_all()

    def replace(self, session: Session) -> Session:
        """Swap a checked-out session that the server no longer knows for a new one.

        The new session stays checked out by the caller; its slot is reserved meanwhile, so
        the pinger does not fill it too. If creating it fails, the slot is free (re-created
        later by :meth:`replenish`) and the error is raised.
        """
        reserved = self.book.disown_and_reserve(session)
        if self.book.closed:
            raise PoolClosed("the pool is closed")
        if not reserved:
            raise PoolUnavailable("no slot free for a replacement session", retry_after=1)
        new = self._create_one(reserved=reserved)
        self.counters.add(sessions_replaced=1)
        try:
            self.book.lend(new)
        except PoolClosed:
            self._bury()
            raise
        return new.session

    def replenish(self) -> int:
        """Create the sessions missing from ``size`` (at open, or lost during an outage).

        Sessions created before an error are kept in the pool; returns how many were made.
        """
        with self._replenishing:
            made_total = 0
            while True:
                reserved = self.book.reserve(self.size)
                if not reserved:
                    return made_total
                made = self._create_sessions(reserved, reserved=reserved)
                self.book.push(made)
                made_total += len(made)

    def rotate(self) -> int:
        """Replace idle sessions older than ``MAX_SESSION_AGE``: create first, then delete."""
        old = self.book.old(self.book.clock())
        rotated = 0
        try:
            while old and not self.book.closed:
                ping_at, item = old[0]
                new = self._create_one(reserved=0)  # the +1 of a rotation: no slot needed
                self.book.push([new])
                old.pop(0)
                self._safe_delete(item.session)
                rotated += 1
                self.counters.add(sessions_rotated=1)
        finally:
            for ping_at, item in old:
                self.book.put_back([item], ping_at)
        return rotated

    def seconds_until_due(self) -> float | None:
        """Seconds until the next idle session needs a ping or a rotation (None if no idle)."""
        return self.book.seconds_until_due()

    def pool_stats(self) -> dict[str, Any]:
        """Gauges for ``PoolManager.stats()``: no RPC."""
        return self.book.gauges()


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

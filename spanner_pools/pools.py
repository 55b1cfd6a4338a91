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

import heapq
import itertools
import logging
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Union

from google.api_core.exceptions import NotFound
from google.cloud.spanner_v1.pool import PingingPool, TransactionPingingPool
from google.cloud.spanner_v1.session import Session

from . import _rpc
from .errors import (
    PoolClosed,
    PoolExhausted,
    PoolMisconfigured,
    PoolUnavailable,
    SessionReturnedTwice,
)
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


class _Pooled:
    """Book-keeping for one idle session: when to rotate it."""

    __slots__ = ("session", "rotate_at")

    def __init__(self, session: Session, rotate_at: float) -> None:
        self.session = session
        self.rotate_at = rotate_at


class _Waiter:
    """One caller of ``get()`` waiting for a session, in arrival order."""

    __slots__ = ("cond", "item")

    def __init__(self, lock: threading.Lock) -> None:
        self.cond = threading.Condition(lock)
        self.item: _Pooled | None = None


class _ManagedPoolMixin:
    """The behaviour shared by both pool classes; see the module docstring."""

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
        self._interval = float(ping_interval)
        self._max_session_age = float(max_session_age)
        self._rpc_timeout = float(rpc_timeout)
        self._ping_timeout = min(float(ping_timeout), self._rpc_timeout)
        self.counters = counters
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._idle: list[tuple[float, int, _Pooled]] = []  # heap by next ping time
        self._waiters: deque[_Waiter] = deque()  # first come, first served
        # Keyed by the Session object: an emulator restarted on the same port hands out the
        # same session IDs again, so an ID does not identify a session for long.
        self._owned: dict[Session, float] = {}  # every live session -> monotonic creation time
        self._lent: dict[Session, float] = {}  # checked-out session -> rotate_at
        self._creating = 0  # slots reserved for sessions being created
        self._stale: set[Session] = set()  # lent sessions whose ID the server gave away
        # After an outage, sessions are checked with GetSession (not a ping) before use: an
        # emulator restarted on the same port may have given their IDs to other processes.
        self._server_created: dict[Session, Any] = {}  # session -> server create_time
        self._unverified: set[Session] = set()
        self._graveyard: list[Session] = []  # came back after close: delete outside the lock
        self._seq = itertools.count()
        self._closed = False
        self._random = random.Random()
        self._replenishing = threading.Lock()  # open() and the pinger may both replenish
        #: Settings the server refused (database not found, permission denied, ...), if any.
        self.setup_error: PoolMisconfigured | None = None

    # -- scheduling ------------------------------------------------------------------------

    def _next_ping(self, now: float, fresh: bool = False) -> float:
        """Ping time for a session just returned (or, ``fresh``, just created), jittered."""
        spread = 0.5 if fresh else 0.2
        return now + self._interval * (1.0 - spread * self._random.random())

    def _rotate_at(self, now: float) -> float:
        return now + self._max_session_age * (1.0 - 0.1 * self._random.random())

    def _push(self, item: _Pooled, ping_at: float) -> None:
        """Make a session available (lock held): to the first waiter, else idle; after close,
        to the graveyard, which request threads empty with :meth:`_bury` once they released
        the lock, and :meth:`clear` empties for the pinger (close() waits for it)."""
        if self._closed:
            self._graveyard.append(item.session)
        elif self._waiters:
            waiter = self._waiters.popleft()
            waiter.item = item
            self._lent[item.session] = item.rotate_at
            waiter.cond.notify()
        else:
            heapq.heappush(self._idle, (ping_at, next(self._seq), item))

    def _bury(self) -> None:
        """Delete the sessions that came back after close (lock not held)."""
        with self._lock:
            doomed, self._graveyard = self._graveyard, []
        for session in doomed:
            self._safe_delete(session)

    def _reserve(self, count: int) -> int:
        """Reserve up to ``count`` free slots for sessions about to be created (lock held)."""
        free = 0 if self._closed else self.size - len(self._owned) - self._creating
        reserved = max(0, min(count, free))
        self._creating += reserved
        return reserved

    def _wake_waiters(self) -> None:
        """Let every waiter re-check the pool (closed, or no session can come) (lock held)."""
        for waiter in self._waiters:
            waiter.cond.notify()

    # -- RPCs, each with a deadline --------------------------------------------------------

    def _create_sessions(self, count: int, *, reserved: int) -> list[_Pooled]:
        """One BatchCreateSessions carrying ``LABELS`` and the database role, releasing
        ``reserved`` slots as the sessions are registered. May return fewer than ``count``."""
        database = self._database
        assert database is not None
        try:
            response = _rpc.batch_create_sessions(
                database,
                count,
                labels=self._labels,
                database_role=self._database_role,
                timeout=self._rpc_timeout,
            )
        except Exception as exc:
            with self._lock:
                self._creating -= reserved
                setup_error = classify_setup_error(exc)
                if setup_error is not None:
                    self.setup_error = setup_error
                if not self._owned and not self._creating:
                    self._wake_waiters()  # nothing can come: let them fail now
            if setup_error is not None:
                raise setup_error from exc
            raise
        now = time.monotonic()
        made: list[_Pooled] = []
        for proto in response.session:
            session = self._new_session()
            session._session_id = proto.name.rsplit("/", 1)[-1]
            made.append(_Pooled(session, self._rotate_at(now)))
        with self._lock:
            self._creating -= reserved
            self.setup_error = None
            self._forget_reused_ids({item.session.session_id for item in made})
            for item, proto in zip(made, response.session, strict=True):
                self._server_created[item.session] = proto.create_time
                self._owned[item.session] = now
        self.counters.add(sessions_created=len(made))
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

    def _disown(self, session: Session) -> None:
        """Forget a session the pool no longer holds (lock held)."""
        self._owned.pop(session, None)
        self._server_created.pop(session, None)
        self._unverified.discard(session)

    def forget(self, session: Session) -> None:
        """The server lost ``session`` (found by someone else): free its slot."""
        with self._lock:
            if session in self._owned:
                self._disown(session)
                self._lent.pop(session, None)
                self._stale.discard(session)
                self.counters.add(sessions_replaced=1)

    def _forget_reused_ids(self, new_ids: set[str]) -> None:
        """Drop sessions whose ID the server just handed out again: it lost them (lock held)."""
        stale = {session for session in self._owned if session.session_id in new_ids}
        if not stale:
            return
        for session in stale:
            self._disown(session)
        self.counters.add(sessions_replaced=len(stale))  # replenish() re-creates them
        idle = [entry for entry in self._idle if entry[2].session not in stale]
        if len(idle) != len(self._idle):
            self._idle = idle
            heapq.heapify(self._idle)
        self._stale |= stale & set(self._lent)

    def _create_one(self, *, reserved: int) -> _Pooled:
        for _ in range(3):
            made = self._create_sessions(1, reserved=reserved)
            reserved = 0
            if made:
                return made[0]
        raise RuntimeError("BatchCreateSessions returned no session three times")

    def _check_session(self, session: Session) -> None:
        """GetSession: ``NotFound`` if the server lost the session or gave its ID away."""
        created = _rpc.get_session(self._database, session, timeout=self._ping_timeout)
        known = self._server_created.get(session)
        if known is not None and created != known:
            raise NotFound(f"Session not found: {session.name} was re-created by the server")

    def _keep_alive(self, session: Session) -> None:
        """Ping a session, or verify it if it has not been checked since an outage."""
        if session in self._unverified:
            self._check_session(session)
            with self._lock:
                self._unverified.discard(session)
        else:
            _rpc.ping(self._database, session, timeout=self._ping_timeout)

    def _delete_session(self, session: Session) -> None:
        """DeleteSession (short deadline), ignoring a session the server already forgot."""
        with self._lock:
            self._disown(session)
        _rpc.delete_session(self._database, session, timeout=self._rpc_timeout)
        self.counters.add(sessions_deleted=1)

    def _safe_delete(self, session: Session) -> bool:
        """Delete a session; log and return False on failure."""
        try:
            self._delete_session(session)
        except Exception as exc:  # noqa: BLE001 - shutdown must go on
            self.log.warning("could not delete session %s: %s", session.session_id, exc)
            return False
        return True

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
        item = self._take(self.default_timeout if timeout is None else timeout)
        if item.session in self._unverified:
            return self._verified(item)
        return item.session

    def _take(self, wait: float) -> _Pooled:
        deadline = time.monotonic() + wait
        with self._lock:
            if self._closed:
                raise PoolClosed("the pool is closed")
            if self._idle and not self._waiters:
                item = heapq.heappop(self._idle)[2]
                self._lent[item.session] = item.rotate_at
                return item
            waiter = _Waiter(self._lock)
            self._waiters.append(waiter)
            try:
                while waiter.item is None:
                    if self._closed:
                        raise PoolClosed("the pool is closed")
                    if not self._owned and not self._creating:
                        raise self._no_session_error()
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        self.counters.add(timeouts=1)
                        raise PoolExhausted(
                            f"no Spanner session came free within POOL_TIMEOUT={wait:g}s "
                            f"(POOL_SIZE={self.size}, all checked out; waiters are served "
                            "in arrival order)",
                            retry_after=max(1, round(wait)),
                        )
                    waiter.cond.wait(remaining)
                return waiter.item
            finally:
                if waiter.item is None:
                    self._waiters.remove(waiter)

    def _no_session_error(self) -> Exception:
        if self.setup_error is not None:
            return self.setup_error
        return PoolUnavailable(
            "the pool holds no session: Spanner has not been reachable since it opened; "
            "the pinger keeps trying",
            retry_after=1,
        )

    def _verified(self, item: _Pooled) -> Session:
        """Check a session lent for the first time since an outage; replace it if lost."""
        session = item.session
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
        with self._lock:
            self._unverified.discard(session)
        return session

    def put(self, session: Session) -> None:
        """Take a session back. One the pool did not create is adopted into a free slot (or
        deleted); one already in the pool is refused; after :meth:`clear` it is deleted."""
        delete = False
        with self._lock:
            rotate_at = self._lent.pop(session, None)
            if session in self._stale:
                self._stale.discard(session)  # its ID belongs to another session now
                return
            now = time.monotonic()
            if session in self._owned:
                if rotate_at is None:
                    raise SessionReturnedTwice(
                        f"session {session.session_id} was put back but is already in the "
                        "pool (returned twice?)"
                    )
                # Lent during an outage: check it (GetSession) before it is lent again.
                ping_at = 0.0 if session in self._unverified else self._next_ping(now)
                self._push(_Pooled(session, rotate_at), ping_at)
            elif session.session_id is None or getattr(session, "is_multiplexed", False):
                return  # never created, or not a pool's session: nothing to hold or delete
            elif self._reserve(1):
                self._creating -= 1  # adopted: it is owned from now on
                self._owned[session] = now
                self.counters.add(sessions_created=1)
                self._push(_Pooled(session, self._rotate_at(now)), self._next_ping(now))
            else:
                delete = True  # no room for a session the pool did not create
        if delete:
            self._safe_delete(session)
        self._bury()

    def mark_closed(self) -> None:
        """Stop lending: waiters get :class:`PoolClosed`; what comes back is deleted."""
        with self._lock:
            self._closed = True
            self._wake_waiters()

    def clear(self) -> None:
        """Close the pool and delete every idle session on the server.

        Stops at the first failure: if Spanner is unreachable, waiting out a deadline per
        session would stall the worker's shutdown; the server drops the rest after an hour.
        """
        with self._lock:
            self._closed = True
            self._wake_waiters()
            doomed = [item.session for _, _, item in self._idle] + self._graveyard
            self._idle.clear()
            self._graveyard = []
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
        now = math.inf if force else time.monotonic()
        with self._lock:
            due: list[_Pooled] = []
            while self._idle and self._idle[0][0] <= now:
                due.append(heapq.heappop(self._idle)[2])
        pinged = 0
        for index, item in enumerate(due):
            if self._closed:  # the rest go to the graveyard, which clear() empties
                self._put_back(due[index:], 0.0)
                break
            try:
                pinged += self._refresh(item)
            except Exception:
                retry = min(self._interval, RETRY_FAILED_PING_AFTER)
                self._put_back(due[index:], time.monotonic() + retry)
                raise
        return pinged

    def _refresh(self, item: _Pooled) -> bool:
        """Keep one idle session (taken off the heap) alive and put it back; True if so.

        ``NotFound`` replaces it (False). Other errors propagate and the caller puts it back
        with :meth:`_put_back`.
        """
        try:
            self._keep_alive(item.session)
        except NotFound:
            with self._lock:
                self._disown(item.session)
                reserved = self._reserve(1)
            if reserved:
                self._replace_idle(reserved)
            return False
        self.counters.add(pings=1)
        with self._lock:
            self._push(item, self._next_ping(time.monotonic()))
        return True

    def _put_back(self, items: list[_Pooled], ping_at: float) -> None:
        """Return sessions a failed pass took off the heap (not those it found lost)."""
        with self._lock:
            for item in items:
                if item.session in self._owned:
                    self._push(item, ping_at)

    def verify_all(self) -> None:
        """After an outage: check every session with GetSession before its next use."""
        with self._lock:
            self._unverified = set(self._owned)
            self._idle = [(0.0, seq, entry) for _, seq, entry in self._idle]
            heapq.heapify(self._idle)

    def _replace_idle(self, reserved: int) -> None:
        """Create a session for an idle one the server lost (on failure, ``replenish`` retries)."""
        new = self._create_one(reserved=reserved)
        self.counters.add(sessions_replaced=1)
        with self._lock:
            self._push(new, self._next_ping(time.monotonic(), fresh=True))

    def replace(self, session: Session) -> Session:
        """Swap a checked-out session that the server no longer knows for a new one.

        The new session stays checked out by the caller; its slot is reserved meanwhile, so
        the pinger does not fill it too. If creating it fails, the slot is free (re-created
        later by :meth:`replenish`) and the error is raised.
        """
        with self._lock:
            self._disown(session)
            self._lent.pop(session, None)
            self._stale.discard(session)
            if self._closed:
                raise PoolClosed("the pool is closed")
            reserved = self._reserve(1)
        if not reserved:
            raise PoolUnavailable("no slot free for a replacement session", retry_after=1)
        new = self._create_one(reserved=reserved)
        self.counters.add(sessions_replaced=1)
        with self._lock:
            if not self._closed:
                self._lent[new.session] = new.rotate_at
                return new.session
            self._graveyard.append(new.session)
        self._bury()
        raise PoolClosed("the pool closed while a session was being replaced")

    def replenish(self) -> int:
        """Create the sessions missing from ``size`` (at open, or lost during an outage).

        Sessions created before an error are kept in the pool; returns how many were made.
        """
        with self._replenishing:
            made_total = 0
            while True:
                with self._lock:
                    reserved = self._reserve(self.size)
                if not reserved:
                    return made_total
                made = self._create_sessions(reserved, reserved=reserved)
                now = time.monotonic()
                with self._lock:
                    for item in made:
                        self._push(item, self._next_ping(now, fresh=True))
                made_total += len(made)

    def rotate(self) -> int:
        """Replace idle sessions older than ``MAX_SESSION_AGE``: create first, then delete."""
        now = time.monotonic()
        with self._lock:
            old = [entry for entry in self._idle if entry[2].rotate_at <= now]
            if not old:
                return 0
            for entry in old:
                self._idle.remove(entry)
            heapq.heapify(self._idle)
        rotated = 0
        try:
            for index, (ping_at, _, item) in enumerate(old):
                if self._closed:
                    break
                new = self._create_one(reserved=0)  # the +1 of a rotation: no slot needed
                with self._lock:
                    self._push(new, self._next_ping(time.monotonic(), fresh=True))
                old[index] = (ping_at, -1, item)  # mark as swapped
                self._safe_delete(item.session)
                rotated += 1
                self.counters.add(sessions_rotated=1)
        finally:
            with self._lock:
                for ping_at, seq, item in old:
                    if seq != -1:
                        self._push(item, ping_at)
        return rotated

    def seconds_until_due(self) -> float | None:
        """Seconds until the next idle session needs a ping or a rotation (None if no idle)."""
        with self._lock:
            if not self._idle:
                return None
            now = time.monotonic()
            soonest = min(self._idle[0][0], min(entry[2].rotate_at for entry in self._idle))
            return max(0.0, soonest - now)

    def pool_stats(self) -> dict[str, Any]:
        """Gauges for ``PoolManager.stats()``: no RPC."""
        with self._lock:
            now = time.monotonic()
            oldest = max((now - born for born in self._owned.values()), default=0.0)
            return {
                "size": self.size,
                "sessions": len(self._owned),
                "available": len(self._idle),
                "waiting": len(self._waiters),
                "oldest_session_age": oldest,
            }


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

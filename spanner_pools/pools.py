"""``PingingPool`` and ``TransactionPingingPool`` with the gaps of google-cloud-spanner closed.

The client's pools (3.71) are single-pass (``ping()`` returns at once), lose a session on any
ping error but ``NotFound``, pay a ``GetSession`` RPC on checkout whenever a ping is late, drop
``labels`` at ``bind()``, never rotate sessions before the server's 28-day limit, and give every
RPC the client's long default deadlines. The subclasses here keep the client's types (so
``isinstance(pool, PingingPool)`` holds) and override the behaviour:

* checkout makes no RPC; a stale session is replaced by the handle on ``NotFound``;
* every RPC of the pool has a short deadline (pings: ``PING_TIMEOUT``);
* a failed ping keeps the session; a missing one is re-created by :meth:`replenish`;
* sessions carry ``LABELS`` and are rotated before ``MAX_SESSION_AGE`` (new one first);
* pings and rotations are jittered so that workers started together spread out.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import math
import random
import threading
import time
from typing import TYPE_CHECKING, Any, Union

from google.api_core.exceptions import NotFound
from google.cloud.spanner_v1._helpers import (
    _metadata_with_leader_aware_routing,
    _metadata_with_prefix,
)
from google.cloud.spanner_v1.pool import PingingPool, TransactionPingingPool
from google.cloud.spanner_v1.session import Session
from google.cloud.spanner_v1.types import BatchCreateSessionsRequest, ExecuteSqlRequest
from google.cloud.spanner_v1.types import Session as SessionProto

from ._channel import maintenance
from .errors import PoolClosed, PoolExhausted, PoolUnavailable
from .stats import PoolCounters

if TYPE_CHECKING:
    from google.cloud.spanner_v1.database import Database

#: Either managed pool class.
ManagedPool = Union["ManagedPingingPool", "ManagedTransactionPingingPool"]

__all__ = ["PING_TIMEOUT", "ManagedPingingPool", "ManagedPool", "ManagedTransactionPingingPool"]

logger = logging.getLogger(__name__)

#: Deadline of one ping, as in the Go client.
PING_TIMEOUT = 1.0
#: Deadline of one DeleteSession: shutdown must not wait long on an unreachable server.
DELETE_TIMEOUT = 2.0
#: How long a session whose ping failed waits before it is tried again.
RETRY_FAILED_PING_AFTER = 1.0


def is_session_not_found(exc: BaseException) -> bool:
    """True for the server's "Session not found" (the session was deleted server-side)."""
    return isinstance(exc, NotFound) and "Session not found" in str(exc)


class _Pooled:
    """Book-keeping for one idle session: when to ping it, when to rotate it."""

    __slots__ = ("session", "rotate_at")

    def __init__(self, session: Session, rotate_at: float) -> None:
        self.session = session
        self.rotate_at = rotate_at


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
        self._cond = threading.Condition(threading.Lock())
        self._idle: list[tuple[float, int, _Pooled]] = []  # heap by next ping time
        # Keyed by the Session object: an emulator restarted on the same port hands out the
        # same session IDs again, so an ID does not identify a session for long.
        self._owned: dict[Session, float] = {}  # every live session -> monotonic creation time
        self._rotations: dict[Session, float] = {}  # checked-out session -> rotate_at
        self._stale: set[Session] = set()  # lent sessions whose ID the server gave away
        # After an outage, sessions are checked with GetSession (not a ping) before use: an
        # emulator restarted on the same port may have given their IDs to other processes.
        self._server_created: dict[Session, Any] = {}  # session -> server create_time
        self._unverified: set[Session] = set()
        self._seq = itertools.count()
        self._closed = False
        self._random = random.Random()
        self._replenishing = threading.Lock()  # open() and the pinger may both replenish

    # -- scheduling ------------------------------------------------------------------------

    def _next_ping(self, now: float, fresh: bool = False) -> float:
        """Ping time for a session just returned (or, ``fresh``, just created), jittered."""
        spread = 0.5 if fresh else 0.2
        return now + self._interval * (1.0 - spread * self._random.random())

    def _rotate_at(self, now: float) -> float:
        return now + self._max_session_age * (1.0 - 0.1 * self._random.random())

    def _push(self, item: _Pooled, ping_at: float) -> None:
        """Make a session available again (lock held)."""
        heapq.heappush(self._idle, (ping_at, next(self._seq), item))
        self._cond.notify()

    # -- RPCs, each with a deadline --------------------------------------------------------

    def _metadata(self, leader: bool = False) -> list[tuple[str, str]]:
        assert self._database is not None
        metadata: list[tuple[str, str]] = _metadata_with_prefix(self._database.name)
        if leader and self._database._route_to_leader_enabled:
            metadata.append(_metadata_with_leader_aware_routing(True))
        return metadata

    def _create_sessions(self, count: int) -> list[_Pooled]:
        """One BatchCreateSessions carrying ``LABELS`` and the database role (``bind()`` in
        the client drops labels). The server may return fewer than ``count``."""
        database = self._database
        assert database is not None
        request = BatchCreateSessionsRequest(
            database=database.name,
            session_count=count,
            session_template=SessionProto(
                labels=dict(self._labels), creator_role=self._database_role or ""
            ),
        )
        with maintenance():
            response = database.spanner_api.batch_create_sessions(
                request=request,
                metadata=self._metadata(leader=True),
                timeout=self._rpc_timeout,
                retry=None,  # the pinger retries, with backoff
            )
        now = time.monotonic()
        made: list[_Pooled] = []
        for proto in response.session:
            session = Session(
                database=database, labels=dict(self._labels), database_role=self._database_role
            )
            session._session_id = proto.name.rsplit("/", 1)[-1]
            made.append(_Pooled(session, self._rotate_at(now)))
        with self._cond:
            self._forget_reused_ids({item.session.session_id for item in made})
            for item, proto in zip(made, response.session, strict=True):
                self._server_created[item.session] = proto.create_time
            for item in made:
                self._owned[item.session] = now
        self.counters.add(sessions_created=len(made))
        return made

    def _disown(self, session: Session) -> None:
        """Forget a session the pool no longer holds (lock held)."""
        self._owned.pop(session, None)
        self._server_created.pop(session, None)
        self._unverified.discard(session)

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
        self._stale |= stale & set(self._rotations)

    def _create_one(self) -> _Pooled:
        for _ in range(3):
            made = self._create_sessions(1)
            if made:
                return made[0]
        raise RuntimeError("BatchCreateSessions returned no session three times")

    def _ping_session(self, session: Session) -> None:
        assert self._database is not None
        request = ExecuteSqlRequest(session=session.name, sql="SELECT 1")
        with maintenance():
            self._database.spanner_api.execute_sql(
                request=request, metadata=self._metadata(), timeout=self._ping_timeout, retry=None
            )

    def _check_session(self, session: Session) -> None:
        """GetSession: ``NotFound`` if the server lost the session or gave its ID away."""
        assert self._database is not None
        with maintenance():
            proto = self._database.spanner_api.get_session(
                name=session.name,
                metadata=self._metadata(),
                timeout=self._ping_timeout,
                retry=None,
            )
        created = self._server_created.get(session)
        if created is not None and proto.create_time != created:
            raise NotFound(f"Session not found: {session.name} was re-created by the server")

    def _keep_alive(self, session: Session) -> None:
        """Ping a session, or verify it if it has not been checked since an outage."""
        if session in self._unverified:
            self._check_session(session)
            with self._cond:
                self._unverified.discard(session)
        else:
            self._ping_session(session)

    def _delete_session(self, session: Session) -> None:
        """DeleteSession (short deadline), ignoring a session the server already forgot."""
        assert self._database is not None
        with self._cond:
            self._disown(session)
        with contextlib.suppress(NotFound), maintenance():
            self._database.spanner_api.delete_session(
                name=session.name,
                metadata=self._metadata(),
                timeout=min(self._rpc_timeout, DELETE_TIMEOUT),
                retry=None,
            )
        self.counters.add(sessions_deleted=1)

    # -- the AbstractSessionPool contract --------------------------------------------------

    def bind(self, database: Database) -> None:
        """Attach the database and create every session now (one BatchCreateSessions)."""
        self._database = database
        self._database_role = self._database_role or database.database_role
        self.replenish()

    def get(self, timeout: float | None = None) -> Session:
        """Lend the least recently used idle session, waiting up to ``timeout`` seconds.

        Makes no RPC. Raises :class:`PoolExhausted` after the timeout.
        """
        wait = self.default_timeout if timeout is None else timeout
        start = time.monotonic()
        deadline = start + wait
        with self._cond:
            while not self._idle:
                if self._closed:
                    raise PoolClosed("the pool is closed")
                if not self._owned and not self._replenishing.locked():
                    raise PoolUnavailable(
                        "the pool holds no session: Spanner has not been reachable since it "
                        "opened; the pinger keeps trying",
                        retry_after=1,
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.counters.add(timeouts=1)
                    raise PoolExhausted(
                        f"no Spanner session free within POOL_TIMEOUT={wait:g}s "
                        f"(POOL_SIZE={self.size}, all checked out)",
                        retry_after=max(1, round(wait)),
                    )
                self._cond.wait(remaining)
            _, _, item = heapq.heappop(self._idle)
            self._rotations[item.session] = item.rotate_at
        return item.session

    def put(self, session: Session) -> None:
        """Take a session back; after :meth:`clear` it is deleted instead."""
        with self._cond:
            rotate_at = self._rotations.pop(session, None)
            if session in self._stale:
                self._stale.discard(session)  # its ID belongs to another session now
                return
            if not self._closed and session in self._owned:
                now = time.monotonic()
                # Lent during an outage: check it (GetSession) before it is lent again.
                ping_at = 0.0 if session in self._unverified else self._next_ping(now)
                self._push(_Pooled(session, rotate_at or self._rotate_at(now)), ping_at)
                return
        if self._closed:
            self._safe_delete(session)

    def clear(self) -> None:
        """Close the pool and delete every idle session on the server.

        Stops at the first failure: if Spanner is unreachable, waiting out a deadline per
        session would stall the worker's shutdown; the server drops the rest after an hour.
        """
        with self._cond:
            self._closed = True
            idle = [item for _, _, item in self._idle]
            self._idle.clear()
            self._cond.notify_all()
        for index, item in enumerate(idle):
            if not self._safe_delete(item.session):
                self.log.warning(
                    "Spanner unreachable at close: %d session(s) left for the server to expire",
                    len(idle) - index,
                )
                return

    def _safe_delete(self, session: Session) -> bool:
        """Delete a session; log and return False on failure."""
        try:
            self._delete_session(session)
        except Exception as exc:  # noqa: BLE001 - shutdown must go on
            self.log.warning("could not delete session %s: %s", session.session_id, exc)
            return False
        return True

    # -- maintenance, called by the pinger -------------------------------------------------

    def ping(self, force: bool = False) -> int:
        """One pass: ping every idle session whose ping is due (every idle one if ``force``);
        returns how many were pinged.

        ``NotFound`` replaces the session; any other error puts the session and every other
        due one back (so the pool never shrinks) and is raised for the pinger to back off.
        """
        now = math.inf if force else time.monotonic()
        with self._cond:
            due: list[_Pooled] = []
            while self._idle and self._idle[0][0] <= now:
                due.append(heapq.heappop(self._idle)[2])
        pinged = 0
        for index, item in enumerate(due):
            try:
                pinged += self._refresh(item)
            except Exception:
                retry = min(self._interval, RETRY_FAILED_PING_AFTER)
                self._put_back(due[index:], time.monotonic() + retry)
                raise
        return pinged

    def probe(self) -> None:
        """Check the least recently used idle session now, due or not (reconnects the channel).

        Called while Spanner looked down. Once it answers, every other session is checked
        (GetSession) before its next use, as soon as it is idle.
        """
        with self._cond:
            if not self._idle:
                return
            ping_at, _, item = heapq.heappop(self._idle)
            self._unverified.add(item.session)  # GetSession rather than a ping
        try:
            alive = self._refresh(item)
        except Exception:
            self._put_back([item], ping_at)
            raise
        self._verify_all(but=item.session if alive else None)

    def _refresh(self, item: _Pooled) -> bool:
        """Keep one idle session (taken off the heap) alive and put it back; True if so.

        ``NotFound`` replaces it (False). Other errors propagate and the caller puts it back
        with :meth:`_put_back`.
        """
        try:
            self._keep_alive(item.session)
        except NotFound:
            with self._cond:
                self._disown(item.session)
            self._replace_idle()
            return False
        self.counters.add(pings=1)
        with self._cond:
            self._push(item, self._next_ping(time.monotonic()))
        return True

    def _put_back(self, items: list[_Pooled], ping_at: float) -> None:
        """Return sessions a failed pass took off the heap (not those it found lost)."""
        with self._cond:
            for item in items:
                if item.session in self._owned:
                    self._push(item, ping_at)

    def _verify_all(self, but: Session | None = None) -> None:
        """Mark every session for a GetSession check and make the idle ones due now."""
        with self._cond:
            self._unverified = set(self._owned) - {but}
            self._idle = [
                (0.0, seq, entry) if entry.session in self._unverified else (at, seq, entry)
                for at, seq, entry in self._idle
            ]
            heapq.heapify(self._idle)

    def _replace_idle(self) -> None:
        """Create a session for an idle one the server lost (on failure, ``replenish`` retries)."""
        new = self._create_one()
        self.counters.add(sessions_replaced=1)
        with self._cond:
            self._push(new, self._next_ping(time.monotonic(), fresh=True))

    def replace(self, session: Session) -> Session:
        """Swap a checked-out session that the server no longer knows for a new one.

        The new session stays checked out by the caller. If creating it fails, the slot is
        free (and re-created later by :meth:`replenish`) and the error is raised.
        """
        with self._cond:
            self._disown(session)
            self._rotations.pop(session, None)
            self._stale.discard(session)
        new = self._create_one()
        self.counters.add(sessions_replaced=1)
        with self._cond:
            self._rotations[new.session] = new.rotate_at
        return new.session

    def replenish(self) -> int:
        """Create the sessions missing from ``size`` (at open, or lost during an outage).

        Sessions created before an error are kept in the pool; returns how many were made.
        """
        with self._replenishing:
            return self._replenish_locked()

    def _replenish_locked(self) -> int:
        made_total = 0
        while True:
            with self._cond:
                missing = 0 if self._closed else self.size - len(self._owned)
            if missing <= 0:
                return made_total
            made = self._create_sessions(missing)
            now = time.monotonic()
            with self._cond:
                for item in made:
                    self._push(item, self._next_ping(now, fresh=True))
            made_total += len(made)

    def rotate(self) -> int:
        """Replace idle sessions older than ``MAX_SESSION_AGE``: create first, then delete."""
        now = time.monotonic()
        with self._cond:
            old = [entry for entry in self._idle if entry[2].rotate_at <= now]
            if not old:
                return 0
            for entry in old:
                self._idle.remove(entry)
            heapq.heapify(self._idle)
        rotated = 0
        try:
            for index, (ping_at, _, item) in enumerate(old):
                new = self._create_one()
                with self._cond:
                    self._push(new, self._next_ping(time.monotonic(), fresh=True))
                old[index] = (ping_at, -1, item)  # mark as swapped
                self._safe_delete(item.session)
                rotated += 1
                self.counters.add(sessions_rotated=1)
        finally:
            with self._cond:
                for ping_at, seq, item in old:
                    if seq != -1:
                        self._push(item, ping_at)
        return rotated

    def seconds_until_due(self) -> float | None:
        """Seconds until the next idle session needs a ping or a rotation (None if no idle)."""
        with self._cond:
            if not self._idle:
                return None
            now = time.monotonic()
            soonest = min(self._idle[0][0], min(entry[2].rotate_at for entry in self._idle))
            return max(0.0, soonest - now)

    def pool_stats(self) -> dict[str, Any]:
        """Gauges for ``PoolManager.stats()``: no RPC."""
        with self._cond:
            now = time.monotonic()
            oldest = max((now - born for born in self._owned.values()), default=0.0)
            return {
                "size": self.size,
                "sessions": len(self._owned),
                "available": len(self._idle),
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

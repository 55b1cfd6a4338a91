"""The managed pool's bookkeeping: which sessions it owns, which are idle and when each is due
for a ping or a rotation, who waits for one, and which slots are being re-created.

No RPC and no thread here: the clock and the random source are injected, so the schedule is
tested offline (``tests/test_book.py``), in the manner of psycopg_pool's ``test_sched.py``.
:class:`~spanner_pools.pools.ManagedPingingPool` makes the RPCs and calls in under no lock.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable
from typing import Any, Generic, TypeVar

from .errors import PoolClosed, PoolExhausted, SessionReturnedTwice

__all__ = ["Pooled", "SessionBook"]

S = TypeVar("S", bound=Hashable)


class Pooled(Generic[S]):
    """One owned session and when it must be rotated."""

    __slots__ = ("session", "rotate_at")

    def __init__(self, session: S, rotate_at: float) -> None:
        self.session = session
        self.rotate_at = rotate_at


class _Waiter(Generic[S]):
    """One caller of :meth:`SessionBook.take` waiting for a session, in arrival order."""

    __slots__ = ("cond", "item")

    def __init__(self, lock: threading.Lock) -> None:
        self.cond = threading.Condition(lock)
        self.item: Pooled[S] | None = None


class SessionBook(Generic[S]):
    """Owned, idle, lent and reserved sessions of one pool of ``size``.

    Sessions are keyed by object, not ID: an emulator restarted on the same port hands out the
    same IDs again. Idle sessions sit in a heap by next ping time; a returned session goes to
    the first waiter if there is one. After :meth:`close` whatever comes back goes to the
    graveyard, for the caller to delete outside the lock.
    """

    def __init__(
        self,
        size: int,
        *,
        ping_interval: float,
        max_session_age: float,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.size = size
        self.interval = float(ping_interval)
        self.max_session_age = float(max_session_age)
        self.clock = clock
        self.random = rng or random.Random()
        self.lock = threading.Lock()
        self.closed = False
        self._idle: list[tuple[float, int, Pooled[S]]] = []  # heap by next ping time
        self._seq = itertools.count()
        self._waiters: deque[_Waiter[S]] = deque()  # first come, first served
        self._owned: dict[S, float] = {}  # every live session -> creation time
        self._lent: dict[S, float] = {}  # checked-out session -> rotate_at
        self._creating = 0  # slots reserved for sessions being created
        self._stale: set[S] = set()  # lent sessions whose ID the server gave away
        self._server_created: dict[S, Any] = {}  # session -> the server's create_time
        self._unverified: set[S] = set()  # to check with GetSession after an outage
        self._graveyard: list[S] = []  # came back after close

    # -- the schedule (lock held or not: pure arithmetic) -------------------------------------

    def next_ping(self, now: float, fresh: bool = False) -> float:
        """Ping time of a session just returned (or, ``fresh``, just created), jittered so
        that workers started together spread their pings over the interval."""
        spread = 0.5 if fresh else 0.2
        return now + self.interval * (1.0 - spread * self.random.random())

    def rotate_at(self, now: float) -> float:
        """Rotation time of a new session: spread over the last 10% of ``MAX_SESSION_AGE``."""
        return now + self.max_session_age * (1.0 - 0.1 * self.random.random())

    # -- lending (each takes the lock) --------------------------------------------------------

    def take(self, wait: float, no_session: Callable[[], Exception]) -> Pooled[S]:
        """The least recently used idle session, or the first one returned within ``wait``
        seconds to this caller (in arrival order). ``no_session()`` is raised when the pool
        owns none and none is being created (nothing can come)."""
        deadline = time.monotonic() + wait
        with self.lock:
            if self.closed:
                raise PoolClosed("the pool is closed")
            if self._idle and not self._waiters:
                item = heapq.heappop(self._idle)[2]
                self._lent[item.session] = item.rotate_at
                return item
            waiter: _Waiter[S] = _Waiter(self.lock)
            self._waiters.append(waiter)
            try:
                while waiter.item is None:
                    if self.closed:
                        raise PoolClosed("the pool is closed")
                    if not self._owned and not self._creating:
                        raise no_session()
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
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

    def give_back(self, session: S) -> str:
        """Take a lent session back. Returns what happened: ``"pooled"``, ``"stale"`` (its ID
        was given away: drop it), ``"adopted"`` (a session the pool did not create filled a
        free slot), ``"delete"`` (no room for it, or the pool closed: delete it), ``"ignored"``
        (a session never created). Raises :class:`SessionReturnedTwice`."""
        with self.lock:
            rotate_at = self._lent.pop(session, None)
            if session in self._stale:
                self._stale.discard(session)
                return "stale"
            now = self.clock()
            if session in self._owned:
                if rotate_at is None:
                    raise SessionReturnedTwice(
                        f"session {getattr(session, 'session_id', session)} was put back but "
                        "is already in the pool (returned twice?)"
                    )
                ping_at = 0.0 if session in self._unverified else self.next_ping(now)
                self._push(Pooled(session, rotate_at), ping_at)
                return "pooled"
            if getattr(session, "session_id", True) is None:
                return "ignored"
            if self.closed or self._reserve(1) == 0:
                return "delete"
            self._creating -= 1  # adopted: owned from now on
            self._owned[session] = now
            self._push(Pooled(session, self.rotate_at(now)), self.next_ping(now))
            return "adopted"

    def lend(self, item: Pooled[S]) -> None:
        """Record a session handed out directly (a replacement that stays checked out)."""
        with self.lock:
            if self.closed:
                self._graveyard.append(item.session)
                raise PoolClosed("the pool closed while a session was being replaced")
            self._lent[item.session] = item.rotate_at

    def _push(self, item: Pooled[S], ping_at: float) -> None:
        """Make a session available (lock held): to the first waiter, else idle; after close
        to the graveyard."""
        if self.closed:
            self._graveyard.append(item.session)
        elif self._waiters:
            waiter = self._waiters.popleft()
            waiter.item = item
            self._lent[item.session] = item.rotate_at
            waiter.cond.notify()
        else:
            heapq.heappush(self._idle, (ping_at, next(self._seq), item))

    def push(self, items: Iterable[Pooled[S]], ping_at: float | None = None) -> None:
        """Make sessions available; ``ping_at`` None: each gets a fresh jittered ping time."""
        with self.lock:
            now = self.clock()
            for item in items:
                if item.session in self._owned:
                    self._push(
                        item, self.next_ping(now, fresh=True) if ping_at is None else ping_at
                    )

    def put_back(self, items: Iterable[Pooled[S]], ping_at: float) -> None:
        """Return sessions taken off the heap for maintenance (the still-owned ones)."""
        self.push(items, ping_at)

    def is_unverified(self, session: S) -> bool:
        return session in self._unverified

    def verified(self, session: S) -> None:
        with self.lock:
            self._unverified.discard(session)

    # -- slots -----------------------------------------------------------------------------------

    def _reserve(self, count: int) -> int:
        free = 0 if self.closed else self.size - len(self._owned) - self._creating
        reserved = max(0, min(count, free))
        self._creating += reserved
        return reserved

    def reserve(self, count: int) -> int:
        """Reserve up to ``count`` free slots for sessions about to be created."""
        with self.lock:
            return self._reserve(count)

    def disown_and_reserve(self, session: S) -> int:
        """Forget a lost session and reserve its slot for the replacement (1, or 0 if closed):
        a refill running meanwhile does not fill the same slot."""
        with self.lock:
            self._disown(session)
            self._lent.pop(session, None)
            self._stale.discard(session)
            return self._reserve(1)

    def created(
        self, sessions: list[tuple[S, Any]], *, reserved: int
    ) -> tuple[list[Pooled[S]], int]:
        """Register sessions just created (with the server's create_time) and release the
        ``reserved`` slots. Owned sessions whose ID the server just handed out again were lost
        by it: they are dropped. Returns the new items and how many were dropped so."""
        now = self.clock()
        made = [Pooled(session, self.rotate_at(now)) for session, _ in sessions]
        with self.lock:
            self._creating -= reserved
            dropped = self._forget_reused_ids({getattr(s, "session_id", None) for s, _ in sessions})
            for session, server_time in sessions:
                self._server_created[session] = server_time
                self._owned[session] = now
        return made, dropped

    def release(self, reserved: int) -> bool:
        """Creating failed: free the ``reserved`` slots. True if the pool now owns nothing and
        nothing is being created (then the waiters are woken to fail now)."""
        with self.lock:
            self._creating -= reserved
            empty = not self._owned and not self._creating
            if empty:
                self._wake_waiters()
            return empty

    def _disown(self, session: S) -> None:
        self._owned.pop(session, None)
        self._server_created.pop(session, None)
        self._unverified.discard(session)

    def disown(self, session: S) -> None:
        with self.lock:
            self._disown(session)

    def forget(self, session: S) -> bool:
        """The server lost a session (found by someone else): free its slot. True if owned."""
        with self.lock:
            if session not in self._owned:
                return False
            self._disown(session)
            self._lent.pop(session, None)
            self._stale.discard(session)
            return True

    def _forget_reused_ids(self, new_ids: set[Any]) -> int:
        stale = {s for s in self._owned if getattr(s, "session_id", None) in new_ids}
        if not stale:
            return 0
        for session in stale:
            self._disown(session)
        idle = [entry for entry in self._idle if entry[2].session not in stale]
        if len(idle) != len(self._idle):
            self._idle = idle
            heapq.heapify(self._idle)
        self._stale |= stale & set(self._lent)
        return len(stale)

    def server_created(self, session: S) -> Any:
        return self._server_created.get(session)

    # -- maintenance ------------------------------------------------------------------------------

    def due(self, now: float) -> list[Pooled[S]]:
        """Take every idle session whose ping is due off the heap."""
        with self.lock:
            taken: list[Pooled[S]] = []
            while self._idle and self._idle[0][0] <= now:
                taken.append(heapq.heappop(self._idle)[2])
            return taken

    def old(self, now: float) -> list[tuple[float, Pooled[S]]]:
        """Take every idle session due for rotation off the heap, with its ping time."""
        with self.lock:
            old = [entry for entry in self._idle if entry[2].rotate_at <= now]
            for entry in old:
                self._idle.remove(entry)
            heapq.heapify(self._idle)
            return [(ping_at, item) for ping_at, _, item in old]

    def verify_all(self) -> None:
        """After an outage: every session is checked (GetSession) before its next use."""
        with self.lock:
            self._unverified = set(self._owned)
            self._idle = [(0.0, seq, entry) for _, seq, entry in self._idle]
            heapq.heapify(self._idle)

    def seconds_until_due(self) -> float | None:
        """Seconds until the next idle session needs a ping or a rotation (None if no idle)."""
        with self.lock:
            if not self._idle:
                return None
            soonest = min(self._idle[0][0], min(entry[2].rotate_at for entry in self._idle))
            return max(0.0, soonest - self.clock())

    # -- closing -----------------------------------------------------------------------------------

    def _wake_waiters(self) -> None:
        for waiter in self._waiters:
            waiter.cond.notify()

    def close(self) -> None:
        """Stop lending: waiters get :class:`PoolClosed`; what comes back is doomed."""
        with self.lock:
            self.closed = True
            self._wake_waiters()

    def doomed(self, *, idle: bool) -> list[S]:
        """Sessions to delete now: the graveyard, and with ``idle`` every idle one (closes)."""
        with self.lock:
            if idle:
                self.closed = True
                self._wake_waiters()
                taken = [item.session for _, _, item in self._idle] + self._graveyard
                self._idle.clear()
            else:
                taken = self._graveyard
            self._graveyard = []
            return taken

    # -- gauges ----------------------------------------------------------------------------------

    @property
    def free_slots(self) -> int:
        return self.size - len(self._owned) - self._creating

    @property
    def owns_any(self) -> bool:
        return bool(self._owned)

    def gauges(self) -> dict[str, Any]:
        with self.lock:
            now = self.clock()
            return {
                "size": self.size,
                "sessions": len(self._owned),
                "available": len(self._idle),
                "waiting": len(self._waiters),
                "oldest_session_age": max(
                    (now - born for born in self._owned.values()), default=0.0
                ),
            }

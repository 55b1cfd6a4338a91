"""The schedule of a :class:`~spanner_pools.book.SessionBook`: when each session is due for a
ping or a rotation (jittered), and the idle heap ordered by next ping time. No RPC and no
thread; the clock and the random source are injected."""

from __future__ import annotations

import heapq
import itertools
import random
import threading
from collections import deque
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

__all__ = ["Pooled", "Schedule"]

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


class Schedule(Generic[S]):
    """The fields ``SessionBook.__init__`` sets, the schedule and the idle heap's maintenance."""

    size: int
    interval: float
    max_session_age: float
    clock: Callable[[], float]
    random: random.Random
    lock: threading.Lock
    closed: bool
    _idle: list[tuple[float, int, Pooled[S]]]  # heap by next ping time
    _seq: itertools.count[int]
    _waiters: deque[_Waiter[S]]  # first come, first served
    _owned: dict[S, float]  # every live session -> creation time
    _lent: dict[S, float]  # checked-out session -> rotate_at
    _creating: int  # slots reserved for sessions being created
    _stale: set[S]  # lent sessions whose ID the server gave away
    _server_created: dict[S, Any]  # session -> the server's create_time
    _unverified: set[S]  # to check with GetSession after an outage
    _graveyard: list[S]  # came back after close

    # -- the schedule (lock held or not: pure arithmetic) -------------------------------------

    def next_ping(self, now: float, fresh: bool = False) -> float:
        """Ping time of a session just returned (or, ``fresh``, just created), jittered so
        that workers started together spread their pings over the interval."""
        spread = 0.5 if fresh else 0.2
        return now + self.interval * (1.0 - spread * self.random.random())

    def rotate_at(self, now: float) -> float:
        """Rotation time of a new session: spread over the last 10% of ``MAX_SESSION_AGE``."""
        return now + self.max_session_age * (1.0 - 0.1 * self.random.random())

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

    def schedule(self) -> list[float]:
        """The next ping times of the idle sessions, soonest first (for tests and debugging)."""
        with self.lock:
            return sorted(at for at, _, _ in self._idle)

    def seconds_until_due(self) -> float | None:
        """Seconds until the next idle session needs a ping or a rotation (None if no idle)."""
        with self.lock:
            if not self._idle:
                return None
            soonest = min(self._idle[0][0], min(entry[2].rotate_at for entry in self._idle))
            return max(0.0, soonest - self.clock())

    def _wake_waiters(self) -> None:
        for waiter in self._waiters:
            waiter.cond.notify()

"""The managed pool's bookkeeping: which sessions it owns, which are idle and when each is due
for a ping or a rotation, who waits for one, and which slots are being re-created.

No RPC and no thread here: the clock and the random source are injected, so the schedule is
tested offline (``tests/test_book.py``), in the manner of psycopg_pool's ``test_sched.py``.
:class:`~spanner_pools.pools.ManagedPingingPool` makes the RPCs and calls in under no lock.
The schedule and idle heap live in :mod:`._book_schedule`, the slots and the stale and
unverified sets in :mod:`._book_slots`; lending, closing and the gauges here.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from ._book_schedule import Pooled, S, _Waiter
from ._book_slots import Slots
from .errors import PoolClosed, PoolExhausted, SessionReturnedTwice

__all__ = ["Pooled", "SessionBook"]


class SessionBook(Slots[S]):
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

    # -- closing -----------------------------------------------------------------------------------

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

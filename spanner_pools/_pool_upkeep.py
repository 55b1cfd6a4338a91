"""The managed pool's maintenance, run by the pinger (ping passes, re-creating missing sessions,
rotation) and by handles (replacing a checked-out session the server lost). A part of
:class:`~spanner_pools.pools.ManagedPingingPool`."""

from __future__ import annotations

import math
from typing import Any

from google.api_core.exceptions import NotFound
from google.cloud.spanner_v1.session import Session

from ._pool_rpcs import PoolRPCs
from .book import Pooled
from .errors import PoolClosed, PoolUnavailable

__all__ = ["RETRY_FAILED_PING_AFTER", "PoolUpkeep"]

#: How long a session whose ping failed waits before it is tried again.
RETRY_FAILED_PING_AFTER = 1.0


class PoolUpkeep(PoolRPCs):
    """The maintenance of the managed pools, over their RPCs."""

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

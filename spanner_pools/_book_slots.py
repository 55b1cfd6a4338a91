"""The slots of a :class:`~spanner_pools.book.SessionBook`: which sessions it owns, slots
reserved for sessions being created, and the sessions the server lost (stale IDs) or that must
be verified after an outage. No RPC and no thread."""

from __future__ import annotations

import heapq
from typing import Any

from ._book_schedule import Pooled, S, Schedule

__all__ = ["Slots"]


class Slots(Schedule[S]):
    """Ownership, reserved slots, and the stale and unverified sets (over :class:`Schedule`)."""

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

    @property
    def free_slots(self) -> int:
        return self.size - len(self._owned) - self._creating

    @property
    def owns_any(self) -> bool:
        return bool(self._owned)

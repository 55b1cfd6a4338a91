"""Thread-safe pool counters: cheap to update, never an RPC to read; and the observer hook.

Observers (:func:`spanner_pools.registry.add_observer`) see every counter increment, every
checkout's wait and every point where the gauges may have moved; :mod:`spanner_pools.metrics`
is one. With no observer
registered a hook costs one function call and an empty loop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .manager import PoolManager

__all__ = ["PoolCounters", "PoolObserver"]


@dataclass
class PoolCounters:
    """Counters only grow; ``in_use``/``max_in_use`` are gauges kept beside them.

    ``_listener`` (set by the manager) receives the increments of every change, outside the
    lock; it may run while a pool holds its own lock, so it must not call back into the pool.
    """

    checkouts: int = 0
    waits: int = 0
    wait_seconds: float = 0.0
    timeouts: int = 0
    pings: int = 0
    ping_errors: int = 0
    sessions_created: int = 0
    sessions_deleted: int = 0
    sessions_replaced: int = 0
    sessions_rotated: int = 0
    leaks_reported: int = 0
    transport_errors: int = 0
    in_use: int = 0
    max_in_use: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _listener: Callable[[Mapping[str, float]], None] | None = field(
        default=None, repr=False, compare=False
    )

    def add(self, **amounts: float) -> None:
        """Add to one or more counters atomically, e.g. ``add(pings=1)``."""
        with self._lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)
        if self._listener is not None:
            self._listener(amounts)

    def checked_out(self, waited: float, did_wait: bool, in_use: int) -> None:
        """Record one checkout; ``in_use`` is the number of sessions lent now."""
        with self._lock:
            self.checkouts += 1
            self.in_use = in_use
            self.max_in_use = max(self.max_in_use, in_use)
            if did_wait:
                self.waits += 1
                self.wait_seconds += waited
        if self._listener is not None:
            if did_wait:
                self._listener({"checkouts": 1, "waits": 1, "wait_seconds": waited})
            else:
                self._listener({"checkouts": 1})

    def set_in_use(self, in_use: int) -> None:
        """The number of sessions lent now (the manager counts its loans: never negative)."""
        with self._lock:
            self.in_use = in_use

    def snapshot(self) -> dict[str, float]:
        """A consistent copy of every counter."""
        with self._lock:
            return {
                f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")
            }


class PoolObserver:
    """Base class of what ``registry.add_observer`` takes; every method defaults to nothing.

    Called in the thread that caused the event; an exception is logged once and ignored.
    """

    def counted(self, manager: PoolManager, deltas: Mapping[str, float]) -> None:
        """Counters of ``manager`` grew by ``deltas`` (may run under a pool lock: no pool calls)."""

    def checked_out(self, manager: PoolManager, waited: float) -> None:
        """A handle got a session after waiting ``waited`` seconds (about 0 when one was free)."""

    def gauges_changed(self, manager: PoolManager) -> None:
        """Sizes may have moved; reading ``manager.stats()`` is safe here."""

"""Thread-safe pool counters: cheap to update, never an RPC to read."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, fields

__all__ = ["PoolCounters"]


@dataclass
class PoolCounters:
    """Counters only grow; ``in_use``/``max_in_use`` are gauges kept beside them."""

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

    def add(self, **amounts: float) -> None:
        """Add to one or more counters atomically, e.g. ``add(pings=1)``."""
        with self._lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)

    def checked_out(self, waited: float, did_wait: bool) -> None:
        """Record one checkout and keep ``max_in_use`` current."""
        with self._lock:
            self.checkouts += 1
            self.in_use += 1
            self.max_in_use = max(self.max_in_use, self.in_use)
            if did_wait:
                self.waits += 1
                self.wait_seconds += waited

    def returned(self) -> None:
        with self._lock:
            self.in_use -= 1

    def snapshot(self) -> dict[str, float]:
        """A consistent copy of every counter."""
        with self._lock:
            return {
                f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")
            }

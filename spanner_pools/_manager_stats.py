"""The manager's ``stats()`` and ``gauges()``: this process's pool as numbers, never an RPC."""

from __future__ import annotations

import os
from typing import Any

from ._manager_base import ManagerBase

__all__ = ["StatsPart"]


class StatsPart(ManagerBase):
    """The observing methods of :class:`~spanner_pools.manager.PoolManager`."""

    def stats(self) -> dict[str, Any]:
        """Gauges and counters of this process's pool; never an RPC."""
        self.check_process()
        proc = self._proc
        built = proc.built
        backend = built.backend if built is not None else None
        setup_error = proc.setup_error or (backend.setup_error() if backend else None)
        stats: dict[str, Any] = {
            "pid": os.getpid(),
            "alias": self.alias,
            "database": self.settings.database,
            "pool": self.settings.pool,
            "opened": built is not None,
            "closed": self._closed,
            "size": self.settings.pool_size,
            "sessions": 0,
            "available": 0,
            "waiting": 0,
            "oldest_session_age": 0.0,
            "pinger_alive": bool(backend and backend.pinger_alive()),
            "leak_watcher_alive": proc.lending.leak_watcher_alive,
            "unreachable": bool(built and built.breaker.down),
            "unreachable_seconds": built.breaker.seconds_down() if built else 0.0,
            "setup_error": str(setup_error) if setup_error is not None else None,
        }
        if backend is not None:
            stats.update(backend.gauges())
        stats.update(proc.counters.snapshot())
        stats["in_use"] = proc.lending.in_use
        return stats

    def gauges(self) -> dict[str, float]:
        """The sizes metrics export, for this process: POOL_SIZE while open (else 0),
        sessions held, available, in use, most in use at once. No RPC."""
        values = self.stats()
        if not values["opened"]:
            values["size"] = 0
        return {
            key: float(values[key])
            for key in ("size", "sessions", "available", "in_use", "max_in_use")
        }

"""Telling the registered observers (metrics) what one pool did: each gets a frozen
:class:`~spanner_pools.stats.PoolInfo` and the numbers, never the manager; an observer that
fails is logged once and ignored."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from . import registry
from .stats import PoolInfo, PoolObserver

__all__ = ["Notifier"]


class Notifier:
    """The observer events of one pool manager."""

    def __init__(
        self,
        log: logging.Logger | logging.LoggerAdapter[Any],
        info: Callable[[], PoolInfo],
        gauges: Callable[[], Mapping[str, float]],
    ) -> None:
        self._log = log
        self._info = info
        self._gauges = gauges
        self._failed: set[int] = set()  # logged once each

    def _notify(self, call: Callable[[PoolObserver], None]) -> None:
        for observer in registry.observers():
            try:
                call(observer)
            except Exception:  # noqa: BLE001 - observers are optional extras
                if id(observer) not in self._failed:
                    self._failed.add(id(observer))
                    self._log.exception("pool observer %r failed (logged once)", observer)

    def counted(self, deltas: Mapping[str, float]) -> None:
        """Counters grew (may run under a pool lock: observers must not call into the pool)."""
        if registry.observers():
            info = self._info()
            self._notify(lambda o: o.counted(info, deltas))

    def checked_out(self, waited: float) -> None:
        if registry.observers():
            info = self._info()
            self._notify(lambda o: o.checked_out(info, waited))
            self.gauges_changed()

    def gauges_changed(self) -> None:
        """The sizes may have moved (never called under a pool lock)."""
        if registry.observers():
            info, gauges = self._info(), self._gauges()
            self._notify(lambda o: o.gauges_changed(info, gauges))

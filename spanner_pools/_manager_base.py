"""What every part of :class:`~spanner_pools.manager.PoolManager` shares.

``_Process`` holds everything one process owns (after ``fork()`` the child makes a new one);
``ManagerBase`` declares the manager's fields and the methods its parts call on each other, so
that each part (:mod:`._manager_fork`, :mod:`._manager_lender`, :mod:`._manager_stats`)
type-checks in its own module without importing :mod:`.manager`.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any

from .backends import Backend
from .errors import PoolMisconfigured
from .forktoken import ForkToken
from .lending import Lending
from .log import PoolLogger
from .observing import Notifier
from .process import Built
from .settings import SpannerSettings
from .stats import PoolCounters

__all__ = ["ManagerBase"]


@dataclass
class _Process:
    """Every field that belongs to one process: after ``fork()`` the child makes a new one."""

    counters: PoolCounters
    lending: Lending
    pid: int = field(default_factory=os.getpid)
    lock: threading.RLock = field(default_factory=threading.RLock)
    built: Built | None = None
    retired: Built | None = None  # after close, for late returns
    paused: Backend | None = None  # held across fork()
    #: The settings the server refused, or no credentials: requests get it at once.
    setup_error: PoolMisconfigured | None = None
    setup_retry_at: float = 0.0
    setup_wait: float = 5.0


class ManagerBase:
    """The fields :class:`~spanner_pools.manager.PoolManager` sets in ``__init__``, and the
    methods one part of it calls on another (defined by the manager or another part)."""

    settings: SpannerSettings
    alias: str
    #: Every record of this manager goes through it: alias and PID in text and ``extra``.
    log: PoolLogger
    _span_attributes: dict[str, Any]
    _observers: Notifier
    _fork_token: ForkToken | None  # made before the first fork while open
    _inherited_from: int | None  # parent PID, when it had opened the pool
    _closed: bool
    _proc: _Process

    def _new_process(self) -> _Process:
        """A fresh ``_Process`` for this process (the manager's)."""
        raise NotImplementedError

    def _ensure_built(self) -> Built:
        """What this process built, opening lazily on first use (the manager's)."""
        raise NotImplementedError

    def check_process(self) -> None:
        """Notice a fork ``os.register_at_fork`` did not see (:mod:`._manager_fork`)."""
        raise NotImplementedError

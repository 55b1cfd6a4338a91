"""The one per-process registry: pool managers, their observers, configuration errors.

Every :class:`~spanner_pools.PoolManager` registers itself here. After ``fork()`` the child
resets every manager (``os.register_at_fork``); at interpreter exit every manager is closed
(``atexit``), so recycled workers delete their sessions. Observers (metrics) registered here
see the events of every manager; adapters report settings they could not use, which the
worker hooks then refuse to boot with. All of it is module state of this one module.
"""

from __future__ import annotations

import atexit
import os
import threading
from typing import Any, Protocol

from . import _sigterm
from .stats import PoolObserver

__all__ = [
    "add_observer",
    "clear_configuration_error",
    "close_all",
    "managers",
    "observers",
    "open_all",
    "remove_observer",
    "report_configuration_error",
    "reset_after_fork",
]


class Registered(Protocol):
    """What the registry and the worker hooks need of a pool manager: fork awareness, open,
    close, a name and a log."""

    alias: str
    log: Any

    @property
    def opened(self) -> bool: ...

    def check_process(self) -> None:
        """Reset if this process is not the one that built the pool (after fork)."""

    def pause_for_fork(self) -> None:
        """Before ``fork()``: hold background RPCs off."""

    def resume_after_fork(self) -> None:
        """After ``fork()``, in the parent."""

    def open(self, wait: bool = True) -> None: ...

    def close(self, timeout: float = 5.0) -> None: ...


_lock = threading.Lock()
_managers: dict[int, Registered] = {}
#: Settings an adapter could not turn into a manager (e.g. Django's ``SPANNER``), by source.
#: Worker hooks refuse to boot a worker while one is recorded.
_configuration_errors: dict[str, Exception] = {}
#: Clients, channels and pools inherited from a parent process. Kept referenced (never used,
#: never closed) so that no gRPC destructor runs on the parent's channel in the child.
_inherited: list[Any] = []


_observers: tuple[PoolObserver, ...] = ()
_observers_lock = threading.Lock()


def add_observer(observer: PoolObserver) -> None:
    """Let ``observer`` see the events of every pool manager of this process (and its forks)."""
    global _observers
    if not isinstance(observer, PoolObserver):
        raise TypeError(
            f"add_observer(observer=...) expects a spanner_pools.stats.PoolObserver, "
            f"got {type(observer).__name__}"
        )
    with _observers_lock:
        if observer not in _observers:
            _observers = (*_observers, observer)


def remove_observer(observer: PoolObserver) -> None:
    """Stop sending events to ``observer``; harmless if it was not added."""
    global _observers
    with _observers_lock:
        _observers = tuple(o for o in _observers if o is not observer)


def observers() -> tuple[PoolObserver, ...]:
    """The registered observers (an immutable snapshot: read without a lock)."""
    return _observers


def register(manager: Registered) -> None:
    with _lock:
        _managers[id(manager)] = manager
    _sigterm.install(close_all)  # servers without a stop hook: SIGTERM deletes them too


def unregister(manager: Registered) -> None:
    with _lock:
        _managers.pop(id(manager), None)


def managers() -> list[Registered]:
    """Every open or not-yet-opened manager of this process."""
    with _lock:
        return list(_managers.values())


def keep_inherited(obj: Any) -> None:
    _inherited.append(obj)


def report_configuration_error(source: str, error: Exception) -> None:
    """Record settings that ``source`` could not use; ``open_all`` raises it.

    For adapters that must not raise at start-up (Django leaves a bad ``SPANNER`` to
    ``manage.py check``), so that a server worker still fails to boot, naming the key.
    """
    _configuration_errors[source] = error


def clear_configuration_error(source: str) -> None:
    _configuration_errors.pop(source, None)


def open_all(wait: bool = True) -> None:
    """Open every registered manager; a failure is logged and retried in the background.

    Raises the first recorded configuration error instead: bad settings are not a reason
    to keep a worker up.
    """
    for error in _configuration_errors.values():
        raise error
    for manager in managers():
        try:
            manager.open(wait=wait)
        except Exception as exc:  # noqa: BLE001 - a worker must boot even if Spanner is down
            manager.log.error("could not open: %s", exc)


def close_all(timeout: float = 5.0) -> None:
    """Close every registered manager: stop pingers, delete sessions."""
    for manager in managers():
        try:
            manager.close(timeout=timeout)
        except Exception:  # noqa: BLE001 - close the others anyway
            manager.log.exception("could not close")


def _before_fork() -> None:
    """Pause every pinger so that no thread of ours is inside gRPC while the process forks."""
    for manager in managers():
        manager.pause_for_fork()


def _after_fork_in_parent() -> None:
    for manager in managers():
        manager.resume_after_fork()


def reset_after_fork() -> None:
    """In a child process: make every manager forget what the parent built."""
    global _lock
    _lock = threading.Lock()
    for manager in list(_managers.values()):
        manager.check_process()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_in_parent,
        after_in_child=reset_after_fork,
    )
atexit.register(close_all)

"""Exceptions raised by spanner-pools, importable from ``spanner_pools``.

Kept free of google-cloud imports (adapters import it at start-up, before gevent patches);
:mod:`spanner_pools.faults` sorts the client's errors into these.
"""

from __future__ import annotations

import queue
from typing import Any

__all__ = [
    "ConfigurationError",
    "HandleClosed",
    "PoolClosed",
    "PoolError",
    "PoolExhausted",
    "PoolMisconfigured",
    "PoolUnavailable",
    "SessionReturnedTwice",
    "SpannerPoolsError",
]


class SpannerPoolsError(Exception):
    """Base class of every error this library raises on purpose."""


class ConfigurationError(SpannerPoolsError, ValueError):
    """A setting is missing, unknown, of the wrong type or out of range.

    ``key`` names the setting as the user wrote it (``SPANNER_POOL_SIZE``,
    ``SPANNER['default']['POOL_SIZE']``, ...) and ``value`` is the bad value.
    """

    def __init__(self, message: str, *, key: str | None = None, value: Any = None) -> None:
        super().__init__(message)
        self.key = key
        self.value = value


class PoolError(SpannerPoolsError):
    """No session can be lent right now; retrying after ``retry_after`` seconds may work.

    The Flask and Django adapters turn every ``PoolError`` into ``503 Service Unavailable``
    with a ``Retry-After`` header.
    """

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PoolExhausted(PoolError, queue.Empty):
    """Every session of the pool stayed checked out for the whole ``POOL_TIMEOUT``.

    Also a ``queue.Empty``: the client documents that for a pool's ``get()`` timeout.
    """


class PoolUnavailable(PoolError):
    """Spanner could not be reached: the pool is not open yet, or an RPC failed for a
    transport reason (UNAVAILABLE, deadline exceeded) during an outage."""


class PoolClosed(PoolError):
    """The pool manager was closed (worker shutting down) and cannot lend sessions."""


class PoolMisconfigured(SpannerPoolsError):
    """Spanner answered but refused this pool's settings, or no credentials could be found:
    a database, instance or project that does not exist, a permission error, rejected labels.

    Not a ``PoolError``: retrying in a second will not help, so the adapters answer
    ``500`` naming the problem, without ``Retry-After``. ``key`` names the setting involved.
    """

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class HandleClosed(SpannerPoolsError, RuntimeError):
    """A ``SessionHandle`` was used after ``close()``."""


class SessionReturnedTwice(SpannerPoolsError, queue.Full):
    """A session was put back into a pool that already holds it idle (it would be lent to
    two callers). Also a ``queue.Full``, which is what the client's own pools raise."""

"""Exceptions raised by spanner-pools, importable from ``spanner_pools``."""

from __future__ import annotations

from typing import Any


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


class PoolExhausted(PoolError):
    """Every session of the pool stayed checked out for the whole ``POOL_TIMEOUT``."""


class PoolUnavailable(PoolError):
    """Spanner could not be reached: the pool is not open yet, or an RPC failed for a
    transport reason (UNAVAILABLE, deadline exceeded) during an outage."""


class PoolClosed(SpannerPoolsError):
    """The pool manager was closed (worker shutting down) and cannot lend sessions."""


class HandleClosed(SpannerPoolsError, RuntimeError):
    """A ``SessionHandle`` was used after ``close()``."""

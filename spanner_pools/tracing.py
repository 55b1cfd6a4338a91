"""OpenTelemetry spans for checkouts and pinger passes, when a tracer provider is configured.

Spans (names are stable):

* ``spanner_pools.checkout``: getting a session for a handle; attributes
  ``spanner_pools.alias``, ``spanner_pools.database``, ``spanner_pools.pool``,
  ``spanner_pools.wait_seconds``; an error status and exception event on ``PoolExhausted``.
* ``spanner_pools.ping_pass``: one pass of the background pinger (a root span), with
  ``spanner_pools.pings``, ``spanner_pools.sessions_created``, ``spanner_pools.sessions_rotated``
  and ``spanner_pools.sessions_replaced`` made by the pass.
* ``spanner_pools.ping``: ``manager.ping()`` (ping every idle session now).

OpenTelemetry is imported on first use and is optional: without it, or with no SDK tracer
provider set (``opentelemetry.trace.set_tracer_provider``), :func:`span` is a no-op costing a
global lookup. The Spanner client traces its own RPCs through the same global provider.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

__all__ = ["enabled", "set_tracer_provider", "span"]

_NULL: AbstractContextManager[Any] = contextlib.nullcontext(None)
_trace: Any = None  # the opentelemetry.trace module; False when it cannot be imported
_provider: Any = None  # set_tracer_provider(); None means the global provider
_tracer_for: tuple[Any, Any] = (None, None)  # (provider, its tracer)


def _trace_module() -> Any:
    global _trace
    if _trace is None:
        try:
            from opentelemetry import trace
        except ImportError:
            _trace = False
        else:
            _trace = trace
    return _trace or None


def set_tracer_provider(provider: Any) -> None:
    """Send this library's spans to ``provider`` rather than the global one (``None``: global).

    For tests and for apps that keep several providers; most apps set the global provider.
    """
    global _provider
    _provider = provider


def _tracer() -> Any:
    """The library's tracer, or None when spans would be dropped anyway."""
    global _tracer_for
    trace = _trace_module()
    if trace is None:
        return None
    provider = _provider if _provider is not None else trace.get_tracer_provider()
    if isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider)):
        return None  # no SDK configured: skip the work
    cached_provider, tracer = _tracer_for
    if cached_provider is not provider:
        from . import __version__

        tracer = provider.get_tracer("spanner_pools", __version__)
        _tracer_for = (provider, tracer)
    return tracer


def enabled() -> bool:
    """True when spans are recorded (OpenTelemetry importable and a real provider set)."""
    return _tracer() is not None


def span(name: str, attributes: Mapping[str, Any]) -> AbstractContextManager[Any]:
    """A context manager giving the started span (current while open), or ``None`` when off.

    Exceptions leaving the block are recorded on the span and set its status to error.
    """
    tracer = _tracer()
    if tracer is None:
        return _NULL
    cm: AbstractContextManager[Any] = tracer.start_as_current_span(
        name, attributes=dict(attributes)
    )
    return cm

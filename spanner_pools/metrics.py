"""Prometheus metrics of every pool of the process, correct across gunicorn workers.

``install()`` once per process (an app factory, ``wsgi.py``; before or after fork) registers
the metrics and an observer of the core: counters and the checkout-wait histogram are
updated when things happen, gauges whenever the sizes may have moved (checkout, return,
pinger pass, open, close). Values are thus written by the process that owns the pool, which
is what prometheus-client's multiprocess mode aggregates: with ``PROMETHEUS_MULTIPROC_DIR``
set, a scrape of any worker (:func:`exposition`) reports the sum over all live workers. No
metric is computed with an RPC.

Metrics (labels ``alias``, ``database``)::

    spanner_pools_pool_size                  gauge    POOL_SIZE of open pools (livesum)
    spanner_pools_sessions                   gauge    sessions held (livesum)
    spanner_pools_sessions_available         gauge    idle sessions (livesum)
    spanner_pools_sessions_in_use            gauge    sessions lent to handles (livesum)
    spanner_pools_sessions_max_in_use        gauge    most lent at once by one process (max)
    spanner_pools_checkout_wait_seconds      histogram  time to get a session
    spanner_pools_checkouts_total            counter  ... and the other counters of stats()

In gunicorn's config add ``from spanner_pools.metrics import child_exit`` (the master then
drops a dead worker's live gauges). Needs the ``prometheus`` extra (prometheus-client).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

try:
    from prometheus_client import (
        CONTENT_TYPE_LATEST,
        REGISTRY,
        CollectorRegistry,
        Counter,
        Gauge,
        Histogram,
        generate_latest,
    )
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "spanner_pools.metrics needs prometheus-client: pip install 'spanner-pools[prometheus]'"
    ) from exc

from . import registry as pool_registry
from .registry import add_observer, remove_observer
from .stats import PoolInfo, PoolObserver

if TYPE_CHECKING:  # not at run time: the gunicorn master imports this without the client
    from .manager import PoolManager


def _pool_managers() -> list[PoolManager]:
    """This process's pool managers (the registry knows them only as fork-aware objects)."""
    return [cast("PoolManager", m) for m in pool_registry.managers() if hasattr(m, "gauges")]


__all__ = [
    "COUNTERS",
    "GAUGES",
    "WAIT_BUCKETS",
    "PoolMetrics",
    "child_exit",
    "exposition",
    "install",
    "mark_process_dead",
    "multiprocess_dir",
    "refresh",
    "uninstall",
]

LABELS = ("alias", "database")

#: ``stats()`` counter -> (metric name without ``_total``, help).
COUNTERS: dict[str, tuple[str, str]] = {
    "checkouts": ("spanner_pools_checkouts", "Sessions lent to handles."),
    "waits": (
        "spanner_pools_checkout_waits",
        "Checkouts that found no idle session and had to wait.",
    ),
    "timeouts": (
        "spanner_pools_checkout_timeouts",
        "Checkouts that gave up after POOL_TIMEOUT (PoolExhausted).",
    ),
    "pings": ("spanner_pools_pings", "Idle sessions pinged (SELECT 1)."),
    "ping_errors": ("spanner_pools_ping_errors", "Pinger passes that failed."),
    "sessions_created": ("spanner_pools_sessions_created", "Sessions created on the server."),
    "sessions_deleted": ("spanner_pools_sessions_deleted", "Sessions deleted on the server."),
    "sessions_replaced": (
        "spanner_pools_sessions_replaced",
        "Sessions the server had lost (Session not found), replaced.",
    ),
    "sessions_rotated": (
        "spanner_pools_sessions_rotated",
        "Sessions replaced before MAX_SESSION_AGE.",
    ),
    "leaks_reported": (
        "spanner_pools_leaks_reported",
        "Handles held longer than LEAK_TIMEOUT (each reported once).",
    ),
    "transport_errors": (
        "spanner_pools_transport_errors",
        "Requests that failed because Spanner was unreachable (PoolUnavailable).",
    ),
}

#: ``stats()`` gauge -> (metric name, help, multiprocess mode).
GAUGES: dict[str, tuple[str, str, str]] = {
    "size": ("spanner_pools_pool_size", "POOL_SIZE of the open pools.", "livesum"),
    "sessions": ("spanner_pools_sessions", "Sessions the pools hold.", "livesum"),
    "available": ("spanner_pools_sessions_available", "Idle sessions.", "livesum"),
    "in_use": ("spanner_pools_sessions_in_use", "Sessions lent to handles.", "livesum"),
    "max_in_use": (
        "spanner_pools_sessions_max_in_use",
        "Most sessions lent at once by one process since it started.",
        "max",
    ),
}

#: Buckets of ``spanner_pools_checkout_wait_seconds``, around the default POOL_TIMEOUT of 5 s.
WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def multiprocess_dir() -> str | None:
    """``PROMETHEUS_MULTIPROC_DIR`` when multiprocess mode is on, else None."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


@dataclass
class _Bound:
    """A manager's labelled children, so an event does not look labels up again."""

    counters: dict[str, Any]
    gauges: dict[str, Any]
    wait: Any


class PoolMetrics(PoolObserver):
    """The metrics of one registry, fed by the core's events. Built by :func:`install`."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.registry = registry
        self.counters = {
            key: Counter(name, text, LABELS, registry=registry)
            for key, (name, text) in COUNTERS.items()
        }
        self.gauges = {
            key: Gauge(name, text, LABELS, registry=registry, multiprocess_mode=mode)  # type: ignore[arg-type]
            for key, (name, text, mode) in GAUGES.items()
        }
        self.wait = Histogram(
            "spanner_pools_checkout_wait_seconds",
            "Seconds a checkout waited for a session.",
            LABELS,
            buckets=WAIT_BUCKETS,
            registry=registry,
        )
        self._bound: dict[tuple[str, str], _Bound] = {}

    def _children(self, pool: PoolInfo) -> _Bound:
        labels = (pool.alias, pool.database)
        bound = self._bound.get(labels)
        if bound is None:
            bound = _Bound(
                counters={k: m.labels(*labels) for k, m in self.counters.items()},
                gauges={k: m.labels(*labels) for k, m in self.gauges.items()},
                wait=self.wait.labels(*labels),
            )
            self._bound[labels] = bound
        return bound

    # -- PoolObserver ------------------------------------------------------------------------

    def counted(self, pool: PoolInfo, deltas: Mapping[str, float]) -> None:
        children = self._children(pool).counters
        for key, amount in deltas.items():
            child = children.get(key)
            if child is not None and amount > 0:
                child.inc(amount)

    def checked_out(self, pool: PoolInfo, waited: float) -> None:
        self._children(pool).wait.observe(waited)

    def gauges_changed(self, pool: PoolInfo, gauges: Mapping[str, float]) -> None:
        for key, child in self._children(pool).gauges.items():
            child.set(gauges[key])

    # -- life cycle --------------------------------------------------------------------------

    def seed(self, manager: PoolManager) -> None:
        """Catch up with what ``manager`` counted before the metrics were installed."""
        self.counted(manager.info, manager.counters.snapshot())
        self.gauges_changed(manager.info, manager.gauges())

    def collectors(self) -> list[Any]:
        return [*self.counters.values(), *self.gauges.values(), self.wait]


_lock = threading.Lock()
_installed: dict[int, PoolMetrics] = {}  # id(registry) -> metrics (0: no registry)


def install(registry: CollectorRegistry | None = REGISTRY) -> PoolMetrics:
    """Register the metrics in ``registry`` (default: the global one) and start feeding them.

    Idempotent per registry. Pools that already counted things are caught up. Call it in
    every process that runs pools; calling it before fork (``--preload``) is fine. In
    multiprocess mode the registry only matters for single-process exposition.
    """
    key = 0 if registry is None else id(registry)
    with _lock:
        metrics = _installed.get(key)
        if metrics is not None:
            return metrics
        metrics = PoolMetrics(registry)
        _installed[key] = metrics
    for manager in _pool_managers():
        metrics.seed(manager)
    add_observer(metrics)
    return metrics


def uninstall(registry: CollectorRegistry | None = REGISTRY) -> None:
    """Stop feeding the metrics of ``registry`` and unregister them (tests, reloads)."""
    key = 0 if registry is None else id(registry)
    with _lock:
        metrics = _installed.pop(key, None)
    if metrics is None:
        return
    remove_observer(metrics)
    if registry is not None:
        for collector in metrics.collectors():
            registry.unregister(collector)


def refresh() -> None:
    """Write the current gauges of this process's pools (done before every exposition)."""
    with _lock:
        installed = list(_installed.values())
    for manager in _pool_managers():
        info, gauges = manager.info, manager.gauges()
        for metrics in installed:
            metrics.gauges_changed(info, gauges)


def exposition(registry: CollectorRegistry | None = None) -> tuple[bytes, str]:
    """The text to answer a scrape with, and its content type.

    In multiprocess mode: every process's values from ``PROMETHEUS_MULTIPROC_DIR``
    (``registry`` is ignored); otherwise ``registry`` (default: the global one).
    """
    refresh()
    if multiprocess_dir() is not None:
        from prometheus_client import multiprocess

        target = CollectorRegistry()
        multiprocess.MultiProcessCollector(target)
    else:
        target = REGISTRY if registry is None else registry
    return generate_latest(target), CONTENT_TYPE_LATEST


def mark_process_dead(pid: int) -> None:
    """Drop the live gauges of a dead process (no-op outside multiprocess mode)."""
    if multiprocess_dir() is None:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn ``child_exit`` hook (runs in the master): forget the exited worker's gauges.

    ``from spanner_pools.metrics import child_exit`` in ``gunicorn.conf.py``. Counters of the
    dead worker stay (their sum never goes down); its ``livesum`` gauges go.
    """
    mark_process_dead(worker.pid)

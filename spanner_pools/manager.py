"""``PoolManager``: one client, database and session pool per settings object and process.

Nothing touches the network at construction. ``open()`` builds everything in the calling
process; after ``fork()`` the child drops what it inherited (without using or deleting it)
and builds its own on next use. ``close()`` stops the pinger and deletes the sessions.

What a ``POOL`` mode does lives in :mod:`.backends` (chosen by one lookup); open/close and use
live here, and the manager's other parts in their own modules: fork ownership
(:mod:`._manager_fork`), lending to handles (:mod:`._manager_lender`, over
:mod:`.lending`) and ``stats()`` (:mod:`._manager_stats`). Every record names the
pool (:class:`~spanner_pools.log.PoolLogger`); observers (:mod:`spanner_pools.stats`, used by
:mod:`spanner_pools.metrics`) see counters and gauges; checkouts are traced
(:mod:`spanner_pools.tracing`); with ``LEAK_TIMEOUT`` a watcher reports handles held too long.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

from google.cloud.spanner_v1 import Client
from google.cloud.spanner_v1.database import Database
from google.cloud.spanner_v1.pool import AbstractSessionPool

from . import registry, tracing
from ._manager_base import _Process
from ._manager_fork import ForkOwnership
from ._manager_lender import LenderPart
from ._manager_stats import StatsPart
from .backends import Backend
from .errors import PoolClosed, PoolMisconfigured, PoolUnavailable
from .faults import classify_setup_error
from .forktoken import ForkToken
from .handle import SessionHandle
from .lending import Lending
from .log import PoolLogger, pool_fields
from .observing import Notifier
from .process import Built, build
from .settings import SpannerSettings
from .stats import PoolCounters, PoolInfo

__all__ = ["PoolManager"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class PoolManager(ForkOwnership, LenderPart, StatsPart):
    """Owns the Spanner ``Client``, ``Database`` and pool of one process.

    ``alias`` names the pool in logs, thread names and stats (Django's alias; ``"default"``).
    """

    #: First and longest wait before ``open()`` retries after no credentials were found or
    #: the client could not be built (credential discovery can take seconds: never per request).
    SETUP_RETRY_FIRST = 5.0
    SETUP_RETRY_MAX = 300.0

    def __init__(self, settings: SpannerSettings, *, alias: str = "default") -> None:
        if not isinstance(settings, SpannerSettings):
            raise TypeError(
                f"PoolManager(settings=...) expects a SpannerSettings, got {type(settings).__name__}; "
                "build one with SpannerSettings.from_mapping({...})"
            )
        self.settings = settings
        self.alias = alias
        #: Every record of this manager goes through it: alias and PID in text and ``extra``.
        self.log = PoolLogger(logger, alias, settings.database)
        self._span_attributes: dict[str, Any] = {
            "spanner_pools.alias": alias,
            "spanner_pools.database": settings.database,
            "spanner_pools.pool": settings.pool,
        }
        self._observers = Notifier(self.log, lambda: self.info, self.gauges)
        self._fork_token: ForkToken | None = None  # made before the first fork while open
        self._inherited_from: int | None = None  # parent PID, when it had opened the pool
        self._closed = False
        self._proc = self._new_process()
        registry.register(self)

    def _new_process(self) -> _Process:
        counters = PoolCounters(_listener=self._observers.counted)
        lending = Lending(
            alias=self.alias,
            settings=self.settings,
            counters=counters,
            log=self.log,
            open_backend=lambda: self._ensure_built().backend,
            current_backend=self._current_backend,
            checked_out=self._observers.checked_out,
            returned=self._returned,
            gauges_changed=self._observers.gauges_changed,
            span_attributes=self._span_attributes,
        )
        return _Process(counters=counters, lending=lending, setup_wait=self.SETUP_RETRY_FIRST)

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("open" if self._proc.built else "not open")
        return f"<PoolManager {self.alias!r} {self.settings.database} pool={self.settings.pool} {state}>"

    @property
    def counters(self) -> PoolCounters:
        """This process's counters."""
        return self._proc.counters

    @property
    def info(self) -> PoolInfo:
        """A frozen description of this pool, for observers and logs."""
        return PoolInfo(
            alias=self.alias,
            database=self.settings.database,
            pool=self.settings.pool,
            pid=os.getpid(),
        )

    @property
    def log_extra(self) -> dict[str, Any]:
        """``extra`` for a log record about this pool: alias, database and this process's PID."""
        return pool_fields(self.alias, self.settings.database)

    # -- open / close ---------------------------------------------------------------------

    @property
    def opened(self) -> bool:
        self.check_process()
        return self._proc.built is not None

    @property
    def closed(self) -> bool:
        return self._closed

    def open(self, wait: bool = True) -> None:
        """Build the client and pool in this process, create the sessions, start the pinger.

        Idempotent. With ``wait`` (default) the sessions are created now and an error is
        raised as :class:`PoolUnavailable` if Spanner cannot be reached (the pool stays open
        and the pinger keeps creating sessions in the background), or as
        :class:`PoolMisconfigured` if the server refused the settings or no credentials were
        found (logged once; a failure to build the client is cached and retried with backoff).
        """
        error: Exception | None = None
        with self._proc.lock:
            self.check_process()
            proc = self._proc
            if self._closed:
                raise PoolClosed(f"Spanner pool {self.alias!r} is closed")
            if proc.built is not None:
                return
            if proc.setup_error is not None and time.monotonic() < proc.setup_retry_at:
                raise proc.setup_error
            if self._inherited_from is not None:
                self._warn_inherited()
            built = self._build_or_cache(proc)
            if wait:
                # Other threads opening lazily wait on the lock until the sessions exist.
                try:
                    built.backend.fill()
                except Exception as exc:  # noqa: BLE001 - reported below, pinger retries
                    error = exc
            proc.built = built
            built.backend.start()
        self._observers.gauges_changed()
        if error is None:
            return
        setup_error = error if isinstance(error, PoolMisconfigured) else classify_setup_error(error)
        if setup_error is not None:
            self.log.error("%s", setup_error)
            raise setup_error from error
        self.log.error(
            "could not create its sessions (%s: %s); retrying in the background",
            type(error).__name__,
            error,
        )
        raise PoolUnavailable(f"Spanner pool {self.alias!r} could not open: {error}") from error

    def _build_or_cache(self, proc: _Process) -> Built:
        """:meth:`_build`, remembering a failure (no credentials: discovery can take seconds)
        so that requests get it at once until the next retry, with a growing wait."""
        try:
            built = build(
                self.settings,
                alias=self.alias,
                counters=proc.counters,
                log=self.log,
                on_pass=self._observers.gauges_changed,
                on_pinger_exit=self._pinger_exited,
                span_attributes=self._span_attributes,
            )
        except Exception as exc:
            setup_error = classify_setup_error(exc)
            if setup_error is None:
                raise
            proc.setup_error = setup_error
            proc.setup_retry_at = time.monotonic() + proc.setup_wait
            self.log.error("%s (next try in %gs)", setup_error, proc.setup_wait)
            proc.setup_wait = min(proc.setup_wait * 2, self.SETUP_RETRY_MAX)
            raise setup_error from exc
        proc.setup_error = None
        proc.setup_wait = self.SETUP_RETRY_FIRST
        return built

    def close(self, timeout: float = 5.0) -> None:
        """Stop lending and the pinger, wait up to ``timeout`` s for lent sessions, delete
        every session (those still lent then too).

        Idempotent; registered to run at exit. A closed manager cannot be opened again. New
        checkouts fail at once with :class:`PoolClosed`, and so does a handle whose session
        was deleted while lent; a session returned (or created by a pinger pass still running)
        during the wait deletes itself. The channel is closed once no thread uses it any more.
        """
        proc = self._proc
        with proc.lock:
            self.check_process()
            proc = self._proc
            if self._closed:
                return
            self._closed = True
            built, proc.built = proc.built, None
            proc.retired = built
        registry.unregister(self)
        proc.lending.close()
        token, self._fork_token = self._fork_token, None
        if token is not None:
            token.close()
        if built is None:
            self._observers.gauges_changed()
            return
        deadline = time.monotonic() + timeout
        if not built.backend.stop(timeout):
            with built.lock:
                built.pinger_abandoned = True
            self.log.warning(
                "the pinger is still inside an RPC; it deletes what it holds when that ends"
            )
        proc.lending.reclaim(built.backend, deadline)  # then deletes what is still lent
        try:
            built.backend.clear()
        except Exception as exc:  # noqa: BLE001 - closing must finish
            self.log.warning("error while deleting sessions: %s", exc)
        built.retiring = True
        built.close_channel_if_unused(lent=proc.lending.in_use, log=self.log)
        self._observers.gauges_changed()
        self.log.info("closed")

    def _pinger_exited(self) -> None:
        """The pinger thread ends: if close() stopped waiting for it, it cleans up itself."""
        proc = self._proc
        built = proc.retired
        if built is None or proc.pid != os.getpid():
            return
        with built.lock:
            abandoned = built.pinger_abandoned
        if abandoned:
            built.backend.clear()  # whatever its last pass created after close() gave up
        built.close_channel_if_unused(lent=proc.lending.in_use, log=self.log, pinger_exiting=True)

    def _current_backend(self) -> Backend | None:
        """The backend sessions go back to: the open one, or the closed one (late returns)."""
        built = self._proc.built or self._proc.retired
        return built.backend if built is not None else None

    def _returned(self) -> None:
        """A session came back: after close, the last one lets the channel close."""
        proc = self._proc
        if self._closed and proc.retired is not None:
            proc.retired.close_channel_if_unused(lent=proc.lending.in_use, log=self.log)

    def __enter__(self) -> PoolManager:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- using it ---------------------------------------------------------------------------

    def _ensure_built(self) -> Built:
        """What this process built, opening lazily on first use."""
        self.check_process()
        built = self._proc.built
        if built is None:
            if self._closed:
                raise PoolClosed(f"Spanner pool {self.alias!r} is closed")
            self.open()
            built = self._proc.built
            if built is None:
                raise PoolClosed(f"Spanner pool {self.alias!r} is closed")
        return built

    @property
    def client(self) -> Client:
        """This process's ``Client`` (opens the manager if needed)."""
        return self._ensure_built().client

    @property
    def database(self) -> Database:
        """This process's ``Database`` (opens the manager if needed)."""
        return self._ensure_built().database

    @property
    def pool(self) -> AbstractSessionPool | None:
        """This process's session pool; ``None`` in ``multiplexed`` mode."""
        return self._ensure_built().backend.pool

    def handle(self) -> SessionHandle:
        """A new request-scoped handle; checks a session out only when first used."""
        return SessionHandle(self)

    def session(self) -> SessionHandle:
        """Deprecated alias of :meth:`handle` (it returns a handle, not a ``Session``)."""
        return self.handle()

    def call(self, func: Callable[[SessionHandle], T]) -> T:
        """Run ``func(handle)`` with a handle that is closed afterwards."""
        with self.handle() as handle:
            return func(handle)

    def ping(self) -> int:
        """Ping every idle session of this process's pool now; returns how many."""
        backend = self._ensure_built().backend
        with tracing.span("spanner_pools.ping", self._span_attributes) as span:
            try:
                count = backend.ping()
            finally:
                self._observers.gauges_changed()
            if span is not None:
                span.set_attribute("spanner_pools.pings", count)
        return count

    def check(self) -> None:
        """Run ``SELECT 1`` on a pooled session: raises if the database does not answer."""
        self.call(lambda handle: handle.execute_sql("SELECT 1"))

"""``PoolManager``: one client, database and session pool per settings object and process.

Nothing touches the network at construction. ``open()`` builds everything in the calling
process; after ``fork()`` the child drops what it inherited (without using or deleting it)
and builds its own on next use. ``close()`` stops the pinger and deletes the sessions.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from google.auth.credentials import AnonymousCredentials
from google.cloud.spanner_v1 import Client
from google.cloud.spanner_v1.database import Database
from google.cloud.spanner_v1.pool import AbstractSessionPool, BurstyPool
from google.cloud.spanner_v1.session import Session

from . import registry
from ._channel import ChannelHealth, build_spanner_api
from ._gevent import init_grpc_for_gevent
from .errors import PoolClosed, PoolUnavailable
from .handle import TRANSPORT_ERRORS, SessionHandle
from .pinger import Pinger
from .pools import ManagedPingingPool, ManagedTransactionPingingPool
from .settings import SpannerSettings
from .stats import PoolCounters

__all__ = ["PoolManager"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_MANAGED = (ManagedPingingPool, ManagedTransactionPingingPool)


@dataclass
class _ProcessState:
    """What one process built: dropped as a whole after fork or close."""

    client: Client
    database: Database
    pool: AbstractSessionPool | None
    pinger: Pinger | None
    health: ChannelHealth
    multiplexed: Session | None = None


class PoolManager:
    """Owns the Spanner ``Client``, ``Database`` and pool of one process.

    ``alias`` names the pool in logs, thread names and stats (Django's alias; ``"default"``).
    """

    def __init__(self, settings: SpannerSettings, *, alias: str = "default") -> None:
        if not isinstance(settings, SpannerSettings):
            raise TypeError(
                f"PoolManager(settings=...) expects a SpannerSettings, got {type(settings).__name__}; "
                "build one with SpannerSettings.from_mapping({...})"
            )
        self.settings = settings
        self.alias = alias
        self.counters = PoolCounters()
        self._lock = threading.RLock()
        self._state: _ProcessState | None = None
        self._pid = os.getpid()
        self._closed = False
        self._handles: set[SessionHandle] = set()
        self._retired_pool: AbstractSessionPool | None = None  # after close, for late returns
        self._paused: Pinger | None = None  # held across fork()
        self.log_extra: dict[str, object] = {"alias": alias, "database": settings.database}
        registry.register(self)

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("open" if self._state else "not open")
        return f"<PoolManager {self.alias!r} {self.settings.database} pool={self.settings.pool} {state}>"

    # -- process ownership ------------------------------------------------------------------

    def _check_process(self) -> None:
        """Backstop for forks ``os.register_at_fork`` did not see (redis-py's ``_checkpid``)."""
        if self._pid != os.getpid():
            self._after_fork()

    def _pause_for_fork(self) -> None:
        """Before ``fork()`` in this process: let the pinger finish its pass and wait."""
        state = self._state
        pinger = state.pinger if state is not None else None
        if pinger is not None and self._pid == os.getpid() and pinger.pause():
            self._paused = pinger

    def _resume_after_fork(self) -> None:
        """After ``fork()``, in the parent: let the pinger go on."""
        paused, self._paused = self._paused, None
        if paused is not None:
            paused.resume()

    def _after_fork(self) -> None:
        """In a child: forget the parent's client, channel and sessions without touching them."""
        state, parent = self._state, self._pid
        self._lock = threading.RLock()
        self._state = None
        self._handles = set()
        self._retired_pool = None
        self._paused = None
        self._pid = os.getpid()
        self.counters = PoolCounters()
        if state is not None:
            registry.keep_inherited(state)
            logger.warning(
                "Spanner pool %r was opened in process %s before fork; this child (%s) drops "
                "it and builds its own. Open pools after fork (use the worker hooks) so the "
                "parent does not hold sessions nobody uses.",
                self.alias,
                parent,
                self._pid,
                extra=self.log_extra,
            )

    # -- open / close ---------------------------------------------------------------------

    @property
    def opened(self) -> bool:
        self._check_process()
        return self._state is not None

    @property
    def closed(self) -> bool:
        return self._closed

    def open(self, wait: bool = True) -> None:
        """Build the client and pool in this process, create the sessions, start the pinger.

        Idempotent. With ``wait`` (default) the sessions are created now and an error is
        raised as :class:`PoolUnavailable` if Spanner cannot be reached; the pool stays open
        and the pinger keeps creating sessions in the background either way.
        """
        with self._lock:
            self._check_process()
            if self._closed:
                raise PoolClosed(f"Spanner pool {self.alias!r} is closed")
            if self._state is not None:
                return
            self._state = state = self._build()
        if not wait:
            return
        try:
            self._fill(state)
        except Exception as exc:
            logger.error(
                "Spanner pool %r could not create its sessions (%s: %s); retrying in the "
                "background",
                self.alias,
                type(exc).__name__,
                exc,
                extra=self.log_extra,
            )
            raise PoolUnavailable(f"Spanner pool {self.alias!r} could not open: {exc}") from exc

    def _build(self) -> _ProcessState:
        """Client, database, pool and pinger: no RPC yet."""
        s = self.settings
        init_grpc_for_gevent()
        client = self._build_client()
        instance = client.instance(s.instance)
        pool: AbstractSessionPool | None = None
        pool_kwargs: dict[str, Any] = {
            "size": s.pool_size,
            "default_timeout": s.pool_timeout,
            "ping_interval": s.ping_interval,
            "labels": dict(s.labels),
            "database_role": s.database_role,
            "max_session_age": s.max_session_age,
            "rpc_timeout": s.rpc_timeout,
            "counters": self.counters,
        }
        if s.pool == "pinging":
            pool = ManagedPingingPool(**pool_kwargs)
        elif s.pool == "transaction_pinging":
            with warnings.catch_warnings():
                # The client deprecates the class; we document what it does instead.
                warnings.simplefilter("ignore", DeprecationWarning)
                pool = ManagedTransactionPingingPool(**pool_kwargs)
        elif s.pool == "bursty":
            pool = BurstyPool(
                target_size=s.pool_size, labels=dict(s.labels), database_role=s.database_role
            )
        # Database(pool=...) does not bind; instance.database() would (a network call).
        database = Database(s.database, instance, pool=pool, database_role=s.database_role)
        database._spanner_api, health = build_spanner_api(
            client, emulator_host=s.emulator_host, rpc_timeout=s.rpc_timeout
        )
        pinger = None
        if isinstance(pool, _MANAGED):
            pool._database = database
            pool._database_role = s.database_role or database.database_role
            pinger = Pinger(
                pool,
                name=f"spanner-pools-pinger:{self.alias}:{s.database}",
                interval=s.ping_interval,
                log_extra=self.log_extra,
                channel_down=lambda: health.down,
                on_pass=self._report_leaks,
            )
            pinger.start()
        elif isinstance(pool, BurstyPool):
            pool.bind(database)
        return _ProcessState(
            client=client, database=database, pool=pool, pinger=pinger, health=health
        )

    def _build_client(self) -> Client:
        s = self.settings
        if s.emulator_host is not None:
            return Client(
                project=s.project,
                credentials=AnonymousCredentials(),
                client_options={"api_endpoint": s.emulator_host},
                disable_builtin_metrics=True,
            )
        credentials = None
        if s.credentials is not None:
            from google.oauth2 import service_account

            credentials = service_account.Credentials.from_service_account_file(s.credentials)
        return Client(project=s.project, credentials=credentials)

    def _fill(self, state: _ProcessState) -> None:
        """Create the pool's sessions now (or the multiplexed session)."""
        pool = state.pool
        if isinstance(pool, _MANAGED):
            pool.replenish()
        elif pool is None:
            self._multiplexed(state)

    def _multiplexed(self, state: _ProcessState) -> Session:
        if state.multiplexed is None:
            # The client's own manager keeps the multiplexed session fresh.
            session: Session = state.database.sessions_manager._get_multiplexed_session()
            state.multiplexed = session
        return state.multiplexed

    def close(self, timeout: float = 5.0) -> None:
        """Stop the pinger, wait up to ``timeout`` s for lent sessions, delete every session.

        Idempotent; registered to run at exit. A closed manager cannot be opened again.
        """
        with self._lock:
            self._check_process()
            if self._closed:
                return
            self._closed = True
            state, self._state = self._state, None
        registry.unregister(self)
        if state is None:
            return
        self._retired_pool = state.pool
        if state.pinger is not None:
            state.pinger.stop()
        deadline = time.monotonic() + timeout
        while self.counters.in_use > 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        if self.counters.in_use:
            logger.warning(
                "closing Spanner pool %r with %d session(s) still lent out; they are deleted "
                "when returned",
                self.alias,
                self.counters.in_use,
                extra=self.log_extra,
            )
        try:
            if state.pool is not None:
                state.pool.clear()
            if state.multiplexed is not None:
                event = state.database.sessions_manager._multiplexed_session_terminate_event
                if event is not None:
                    event.set()
        except Exception as exc:  # noqa: BLE001 - closing must finish
            logger.warning("Spanner pool %r: error while deleting sessions: %s", self.alias, exc)
        if not self.counters.in_use:
            state.database.spanner_api.transport.close()
        logger.info("Spanner pool %r closed", self.alias, extra=self.log_extra)

    def __enter__(self) -> PoolManager:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- using it ---------------------------------------------------------------------------

    def _ensure_state(self) -> _ProcessState:
        """The open state of this process, opening lazily on first use."""
        self._check_process()
        state = self._state
        if state is None:
            self.open()
            state = self._state
            if state is None:
                raise PoolClosed(f"Spanner pool {self.alias!r} is closed")
        return state

    @property
    def client(self) -> Client:
        """This process's ``Client`` (opens the manager if needed)."""
        return self._ensure_state().client

    @property
    def database(self) -> Database:
        """This process's ``Database`` (opens the manager if needed)."""
        return self._ensure_state().database

    @property
    def pool(self) -> AbstractSessionPool | None:
        """This process's session pool; ``None`` in ``multiplexed`` mode."""
        return self._ensure_state().pool

    def session(self) -> SessionHandle:
        """A new request-scoped handle; checks a session out only when first used."""
        return SessionHandle(self)

    def _checkout(self, handle: SessionHandle) -> Session:
        state = self._ensure_state()
        start = time.monotonic()
        pool_waits = isinstance(state.pool, _MANAGED)  # the others never wait for a session
        if state.pool is None:
            try:
                session = self._multiplexed(state)
            except TRANSPORT_ERRORS as exc:
                raise PoolUnavailable(f"Spanner is unreachable: {exc}") from exc
        elif isinstance(state.pool, _MANAGED):
            session = state.pool.get(timeout=self.settings.pool_timeout)
        else:
            try:
                session = state.pool.get()
            except TRANSPORT_ERRORS as exc:
                raise PoolUnavailable(f"Spanner is unreachable: {exc}") from exc
        waited = time.monotonic() - start
        self.counters.checked_out(waited, did_wait=waited > 0.001 and pool_waits)
        with self._lock:
            self._handles.add(handle)
        return session

    def _checkin(self, handle: SessionHandle, session: Session) -> None:
        with self._lock:
            self._handles.discard(handle)
        self.counters.returned()
        if self._pid != os.getpid():
            return  # a handle from the parent: its session is not ours to return
        pool = self._state.pool if self._state is not None else self._retired_pool
        if pool is None:
            return  # the multiplexed session is shared, never lent
        if self._closed and isinstance(pool, BurstyPool):
            try:
                session.delete()
            except Exception as exc:  # noqa: BLE001 - best effort after close
                logger.warning("could not delete session %s: %s", session.session_id, exc)
            return
        pool.put(session)

    def _replace(self, handle: SessionHandle, session: Session) -> Session:
        """A new session for one the server lost; on failure the handle holds none."""
        state = self._ensure_state()
        pool = state.pool
        try:
            if pool is None:
                state.database.sessions_manager._multiplexed_session = None
                state.multiplexed = None
                return self._multiplexed(state)
            if isinstance(pool, _MANAGED):
                return pool.replace(session)
            new: Session = pool._new_session()
            new.create()
            self.counters.add(sessions_replaced=1, sessions_created=1)
            return new
        except Exception:
            with self._lock:
                self._handles.discard(handle)
            self.counters.returned()
            raise

    def call(self, func: Callable[[SessionHandle], T]) -> T:
        """Run ``func(handle)`` with a handle that is closed afterwards."""
        with self.session() as handle:
            return func(handle)

    def ping(self) -> int:
        """Ping every idle session now (``flask spanner ping``); returns how many."""
        state = self._ensure_state()
        if isinstance(state.pool, _MANAGED):
            try:
                return state.pool.ping(force=True)
            except TRANSPORT_ERRORS as exc:
                raise PoolUnavailable(f"Spanner is unreachable: {exc}") from exc
        return 0

    def check(self) -> None:
        """Run ``SELECT 1`` on a pooled session: raises if the database does not answer."""
        self.call(lambda handle: handle.execute_sql("SELECT 1"))

    # -- observing it -----------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Gauges and counters of this process's pool; never an RPC."""
        self._check_process()
        state = self._state
        pool = state.pool if state else None
        counters = self.counters.snapshot()
        stats: dict[str, Any] = {
            "pid": os.getpid(),
            "alias": self.alias,
            "database": self.settings.database,
            "pool": self.settings.pool,
            "opened": state is not None,
            "closed": self._closed,
            "size": self.settings.pool_size,
            "sessions": 0,
            "available": 0,
            "oldest_session_age": 0.0,
            "pinger_alive": bool(state and state.pinger and state.pinger.is_alive()),
        }
        if isinstance(pool, _MANAGED):
            stats.update(pool.pool_stats())
        elif isinstance(pool, BurstyPool):
            stats["available"] = stats["sessions"] = pool._sessions.qsize()
        elif state is not None:
            stats["size"] = stats["sessions"] = int(state.multiplexed is not None)
            stats["available"] = stats["size"]
        stats.update(counters)
        return stats

    def _report_leaks(self) -> None:
        """Log, once per handle, sessions held longer than ``LEAK_TIMEOUT`` (pinger thread)."""
        limit = self.settings.leak_timeout
        if limit is None:
            return
        now = time.monotonic()
        with self._lock:
            handles = list(self._handles)
        for handle in handles:
            since = handle.checked_out_at
            if handle.leak_reported or since is None or now - since < limit:
                continue
            handle.leak_reported = True
            self.counters.add(leaks_reported=1)
            logger.warning(
                "Spanner session of pool %r held for %.1fs (LEAK_TIMEOUT=%gs) by thread %s; "
                "checked out at:\n%s",
                self.alias,
                now - since,
                limit,
                handle.thread_name,
                handle.checkout_stack or "(stack not recorded)",
                extra=self.log_extra,
            )

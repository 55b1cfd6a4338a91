"""``PoolManager``: one client, database and session pool per settings object and process.

Nothing touches the network at construction. ``open()`` builds everything in the calling
process; after ``fork()`` the child drops what it inherited (without using or deleting it)
and builds its own on next use. ``close()`` stops the pinger and deletes the sessions.

Operations: every log record names the pool (:class:`~spanner_pools.log.PoolLogger`);
observers (:mod:`spanner_pools.stats`, used by :mod:`spanner_pools.metrics`) see counters and
gauges; checkouts and pinger passes are traced (:mod:`spanner_pools.tracing`); with
``LEAK_TIMEOUT`` a watcher thread reports handles held too long.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from google.auth.credentials import AnonymousCredentials
from google.cloud.spanner_v1 import Client
from google.cloud.spanner_v1.database import Database
from google.cloud.spanner_v1.pool import AbstractSessionPool, BurstyPool
from google.cloud.spanner_v1.session import Session

from . import registry, tracing
from ._channel import ChannelHealth, build_spanner_api
from ._gevent import init_grpc_for_gevent
from .errors import PoolClosed, PoolUnavailable
from .handle import TRANSPORT_ERRORS, SessionHandle
from .log import PoolLogger, pool_fields
from .owner import with_process_labels
from .pinger import Pinger
from .pools import ManagedPingingPool, ManagedTransactionPingingPool
from .settings import SpannerSettings
from .stats import PoolCounters, PoolObserver

__all__ = ["PoolManager"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_MANAGED = (ManagedPingingPool, ManagedTransactionPingingPool)
_PACKAGE_DIR = os.path.normcase(os.path.dirname(os.path.abspath(__file__)))
#: Frames of the caller kept in a leak report's checkout stack.
LEAK_STACK_FRAMES = 20
#: Counters whose growth during a pinger pass is recorded on its span.
PASS_ATTRIBUTES = ("pings", "sessions_created", "sessions_rotated", "sessions_replaced")


@dataclass
class _ProcessState:
    """What one process built: dropped as a whole after fork or close."""

    client: Client
    database: Database
    pool: AbstractSessionPool | None
    pinger: Pinger | None
    health: ChannelHealth
    multiplexed: Session | None = None


class _ForkToken:
    """One byte in a pipe, inherited by every process forked from the one that made it.

    Whichever process of the tree reads the byte first says so with ``take()`` returning True;
    the others read nothing. It makes the "opened before fork" warning appear once per tree.
    """

    def __init__(self) -> None:
        read_end, write_end = os.pipe()
        os.write(write_end, b"!")
        os.close(write_end)  # the byte stays buffered; later reads see end-of-file
        os.set_blocking(read_end, False)
        info = os.fstat(read_end)
        self._fd = read_end
        self._identity = (info.st_dev, info.st_ino)

    def take(self) -> bool:
        """True in the one process that gets the byte (or if the pipe is gone: say it anyway)."""
        try:
            info = os.fstat(self._fd)
        except OSError:
            return True
        if not stat.S_ISFIFO(info.st_mode) or (info.st_dev, info.st_ino) != self._identity:
            return True  # the descriptor was closed (and reused): never read someone else's
        try:
            return os.read(self._fd, 1) == b"!"
        except BlockingIOError:
            return False
        except OSError:
            return True

    def close(self) -> None:
        try:
            info = os.fstat(self._fd)
        except OSError:
            return
        if (info.st_dev, info.st_ino) == self._identity:
            os.close(self._fd)


class _LeakWatcher:
    """A daemon thread logging handles held longer than ``LEAK_TIMEOUT``, once per handle.

    Sleeps until the earliest checkout becomes due (or until a checkout wakes it), so a
    report comes ``LEAK_TIMEOUT`` after the checkout whatever the pool mode or ping interval.
    Started on the first checkout of a process (never in a master that only forks), stopped
    by ``close()``; a forked child starts its own.
    """

    def __init__(self, manager: PoolManager) -> None:
        self._manager = manager
        self._cond = threading.Condition(threading.Lock())
        self._generation = 0  # bumped by every checkout: the thread re-reads the handles
        self._stopped = False
        self._thread = threading.Thread(
            target=self._run,
            name=f"spanner-pools-leaks:{manager.alias}:{manager.settings.database}",
            daemon=True,
        )

    @property
    def name(self) -> str:
        return self._thread.name

    def start(self) -> None:
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def poke(self) -> None:
        """A handle was checked out: recompute the next due time."""
        with self._cond:
            self._generation += 1
            self._cond.notify()

    def stop(self, timeout: float = 1.0) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopped:
                    return
                generation = self._generation
            try:
                due = self._manager._report_leaks()
            except Exception:  # noqa: BLE001 - the watcher must survive anything
                self._manager.log.exception("leak watcher pass failed")
                due = 1.0
            with self._cond:
                if self._stopped:
                    return
                if self._generation == generation:
                    self._cond.wait(due)


class _ObservedPinger(Pinger):
    """The pinger with each pass traced as ``spanner_pools.ping_pass`` when tracing is on."""

    def __init__(
        self,
        pool: ManagedPingingPool | ManagedTransactionPingingPool,
        *,
        span_attributes: Mapping[str, Any],
        **kwargs: Any,
    ) -> None:
        super().__init__(pool, **kwargs)
        self._span_attributes = span_attributes

    def run_pass(self) -> None:
        if not tracing.enabled():
            super().run_pass()
            return
        counters = self._pool.counters
        before = counters.snapshot()
        with tracing.span("spanner_pools.ping_pass", self._span_attributes) as span:
            try:
                super().run_pass()
            finally:
                if span is not None:
                    after = counters.snapshot()
                    for key in PASS_ATTRIBUTES:
                        span.set_attribute(f"spanner_pools.{key}", int(after[key] - before[key]))


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
        #: Every record of this manager goes through it: alias and PID in text and ``extra``.
        self.log = PoolLogger(logger, alias, settings.database)
        self.counters = PoolCounters(_listener=self._counted)
        self._lock = threading.RLock()
        self._state: _ProcessState | None = None
        self._pid = os.getpid()
        self._closed = False
        self._handles: set[SessionHandle] = set()
        self._retired_pool: AbstractSessionPool | None = None  # after close, for late returns
        self._paused: Pinger | None = None  # held across fork()
        self._leak_watcher: _LeakWatcher | None = None
        self._failed_observers: set[int] = set()  # logged once each
        self._fork_token: _ForkToken | None = None  # made before the first fork while open
        self._inherited_from: int | None = None  # parent PID, when it had opened the pool
        self._span_attributes: dict[str, Any] = {
            "spanner_pools.alias": alias,
            "spanner_pools.database": settings.database,
            "spanner_pools.pool": settings.pool,
        }
        registry.register(self)

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("open" if self._state else "not open")
        return f"<PoolManager {self.alias!r} {self.settings.database} pool={self.settings.pool} {state}>"

    @property
    def log_extra(self) -> dict[str, Any]:
        """``extra`` for a log record about this pool: alias, database and this process's PID."""
        return pool_fields(self.alias, self.settings.database)

    # -- process ownership ------------------------------------------------------------------

    def _check_process(self) -> None:
        """Backstop for forks ``os.register_at_fork`` did not see (redis-py's ``_checkpid``)."""
        if self._pid != os.getpid():
            self._after_fork()

    def _pause_for_fork(self) -> None:
        """Before ``fork()`` in this process: let the pinger finish its pass and wait.

        An open pool also gets its fork token now, for the once-per-tree warning."""
        state = self._state
        if state is None or self._pid != os.getpid():
            return
        if self._fork_token is None:
            # Out of descriptors: no token, and every child warns on its own.
            with contextlib.suppress(OSError):
                self._fork_token = _ForkToken()
        pinger = state.pinger
        if pinger is not None and pinger.pause():
            self._paused = pinger

    def _resume_after_fork(self) -> None:
        """After ``fork()``, in the parent: let the pinger go on."""
        paused, self._paused = self._paused, None
        if paused is not None:
            paused.resume()

    def _after_fork(self) -> None:
        """In a child: forget the parent's client, channel and sessions without touching them.

        Says nothing yet: the warning comes when the child uses the pool (:meth:`open`).
        """
        state, parent = self._state, self._pid
        self._lock = threading.RLock()
        self._state = None
        self._handles = set()
        self._retired_pool = None
        self._paused = None
        self._leak_watcher = None  # its thread stayed in the parent
        self._pid = os.getpid()
        self.counters = PoolCounters(_listener=self._counted)
        if state is not None:
            registry.keep_inherited(state)
            self._inherited_from = parent

    def _warn_inherited(self) -> None:
        """The pool was open in a parent and is now used here: warn once per process tree."""
        parent, self._inherited_from = self._inherited_from, None
        token, self._fork_token = self._fork_token, None
        if parent is None or (token is not None and not token.take()):
            return
        self.log.warning(
            "this pool was opened in process %s before fork; this process leaves the "
            "inherited sessions alone and creates its own, while the parent keeps (and pings) "
            "its sessions until it closes the pool. Open pools after fork: use the worker "
            "hooks (gunicorn -c python:spanner_pools.gunicorn) and do not use the pool at "
            "import time with --preload. Logged once for all processes forked from %s.",
            parent,
            parent,
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
        error: Exception | None = None
        with self._lock:
            self._check_process()
            if self._closed:
                raise PoolClosed(f"Spanner pool {self.alias!r} is closed")
            if self._state is not None:
                return
            if self._inherited_from is not None:
                self._warn_inherited()
            state = self._build()
            if wait:
                # Other threads opening lazily wait on the lock until the sessions exist.
                try:
                    self._fill(state)
                except Exception as exc:  # noqa: BLE001 - reported below, pinger retries
                    error = exc
            self._state = state
        self._gauges_changed()
        if error is not None:
            self.log.error(
                "could not create its sessions (%s: %s); retrying in the background",
                type(error).__name__,
                error,
            )
            raise PoolUnavailable(f"Spanner pool {self.alias!r} could not open: {error}") from error

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
            "labels": with_process_labels(s.labels),  # owner: dead workers' sessions are reaped
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
            pool.log = self.log
            pool._database = database
            pool._database_role = s.database_role or database.database_role
            pinger = _ObservedPinger(
                pool,
                name=f"spanner-pools-pinger:{self.alias}:{s.database}",
                interval=s.ping_interval,
                log=self.log,
                channel_down=lambda: health.down,
                on_pass=self._gauges_changed,
                span_attributes=self._span_attributes,
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
        watcher, self._leak_watcher = self._leak_watcher, None
        if watcher is not None:
            watcher.stop()
        token, self._fork_token = self._fork_token, None
        if token is not None:
            token.close()
        if state is None:
            self._gauges_changed()
            return
        self._retired_pool = state.pool
        if state.pinger is not None:
            state.pinger.stop()
        deadline = time.monotonic() + timeout
        while self.counters.in_use > 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        if self.counters.in_use:
            self.log.warning(
                "closing with %d session(s) still lent out; they are deleted when returned",
                self.counters.in_use,
            )
        try:
            if state.pool is not None:
                state.pool.clear()
            if state.multiplexed is not None:
                event = state.database.sessions_manager._multiplexed_session_terminate_event
                if event is not None:
                    event.set()
        except Exception as exc:  # noqa: BLE001 - closing must finish
            self.log.warning("error while deleting sessions: %s", exc)
        if not self.counters.in_use:
            state.database.spanner_api.transport.close()
        self._gauges_changed()
        self.log.info("closed")

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
        """Lend ``handle`` a session: traced, counted, observed and watched for leaks."""
        with tracing.span("spanner_pools.checkout", self._span_attributes) as span:
            state = self._ensure_state()
            start = time.monotonic()
            session = self._get_session(state)
            waited = time.monotonic() - start
            if span is not None:
                span.set_attribute("spanner_pools.wait_seconds", waited)
        pool_waits = isinstance(state.pool, _MANAGED)  # the others never wait for a session
        self.counters.checked_out(waited, did_wait=waited > 0.001 and pool_waits)
        watch = self.settings.leak_timeout is not None
        if watch:
            handle.checked_out_at = time.monotonic()
            handle.thread_name = threading.current_thread().name
            handle.checkout_stack = _caller_stack()
        with self._lock:
            self._handles.add(handle)
        if watch:
            self._watch_leaks()
        observers = registry.observers()
        if observers:
            self._notify(observers, lambda o: o.checked_out(self, waited))
            self._notify(observers, lambda o: o.gauges_changed(self))
        return session

    def _get_session(self, state: _ProcessState) -> Session:
        if state.pool is None:
            try:
                return self._multiplexed(state)
            except TRANSPORT_ERRORS as exc:
                raise PoolUnavailable(f"Spanner is unreachable: {exc}") from exc
        if isinstance(state.pool, _MANAGED):
            return state.pool.get(timeout=self.settings.pool_timeout)
        try:
            session: Session = state.pool.get()
        except TRANSPORT_ERRORS as exc:
            raise PoolUnavailable(f"Spanner is unreachable: {exc}") from exc
        return session

    def _checkin(self, handle: SessionHandle, session: Session) -> None:
        with self._lock:
            self._handles.discard(handle)
        self.counters.returned()
        if self._pid != os.getpid():
            return  # a handle from the parent: its session is not ours to return
        pool = self._state.pool if self._state is not None else self._retired_pool
        if pool is None:
            self._gauges_changed()
            return  # the multiplexed session is shared, never lent
        if self._closed and isinstance(pool, BurstyPool):
            try:
                session.delete()
            except Exception as exc:  # noqa: BLE001 - best effort after close
                self.log.warning("could not delete session %s: %s", session.session_id, exc)
            return
        pool.put(session)
        self._gauges_changed()

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
        finally:
            self._gauges_changed()

    def call(self, func: Callable[[SessionHandle], T]) -> T:
        """Run ``func(handle)`` with a handle that is closed afterwards."""
        with self.session() as handle:
            return func(handle)

    def ping(self) -> int:
        """Ping every idle session now (``flask spanner ping``); returns how many."""
        state = self._ensure_state()
        if not isinstance(state.pool, _MANAGED):
            return 0
        with tracing.span("spanner_pools.ping", self._span_attributes) as span:
            try:
                count = state.pool.ping(force=True)
            except TRANSPORT_ERRORS as exc:
                raise PoolUnavailable(f"Spanner is unreachable: {exc}") from exc
            finally:
                self._gauges_changed()
            if span is not None:
                span.set_attribute("spanner_pools.pings", count)
        return count

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
            "leak_watcher_alive": bool(self._leak_watcher and self._leak_watcher.is_alive()),
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

    def _gauges(self) -> dict[str, float]:
        """The sizes metrics export, for this process: POOL_SIZE while open (else 0),
        sessions held, available, in use, most in use at once. No RPC."""
        values = self.stats()
        if not values["opened"]:
            values["size"] = 0
        return {
            key: float(values[key])
            for key in ("size", "sessions", "available", "in_use", "max_in_use")
        }

    def _notify(
        self, observers: tuple[PoolObserver, ...], call: Callable[[PoolObserver], None]
    ) -> None:
        """Run ``call`` for every observer; a failing observer never breaks the pool."""
        for observer in observers:
            try:
                call(observer)
            except Exception:  # noqa: BLE001 - observers are optional extras
                if id(observer) not in self._failed_observers:
                    self._failed_observers.add(id(observer))
                    self.log.exception("pool observer %r failed (logged once)", observer)

    def _counted(self, deltas: Mapping[str, float]) -> None:
        """``PoolCounters`` listener: may run under a pool lock (observers must not call in)."""
        observers = registry.observers()
        if observers:
            self._notify(observers, lambda o: o.counted(self, deltas))

    def _gauges_changed(self) -> None:
        """Tell observers the sizes may have moved (never called under a pool lock)."""
        observers = registry.observers()
        if observers:
            self._notify(observers, lambda o: o.gauges_changed(self))

    # -- leak detection -----------------------------------------------------------------------

    def _watch_leaks(self) -> None:
        """Make sure this process's leak watcher runs, and make it look at the new handle."""
        watcher = self._leak_watcher
        if watcher is None:
            with self._lock:
                watcher = self._leak_watcher
                if watcher is None:
                    if self._closed:
                        return
                    watcher = self._leak_watcher = _LeakWatcher(self)
                    watcher.start()
        watcher.poke()

    def _report_leaks(self) -> float | None:
        """Log, once per handle, sessions held longer than ``LEAK_TIMEOUT``.

        Returns the seconds until the next handle becomes due (None: nothing to watch).
        """
        limit = self.settings.leak_timeout
        if limit is None:
            return None
        now = time.monotonic()
        with self._lock:
            handles = list(self._handles)
        next_due: float | None = None
        for handle in handles:
            since = handle.checked_out_at
            if handle.leak_reported or since is None:
                continue
            held = now - since
            if held < limit:
                next_due = limit - held if next_due is None else min(next_due, limit - held)
                continue
            handle.leak_reported = True
            self.counters.add(leaks_reported=1)
            self.log.warning(
                "session held for %.1fs (LEAK_TIMEOUT=%gs) by thread %s and not returned "
                "(reported once per handle); checked out at:\n%s",
                held,
                limit,
                handle.thread_name,
                handle.checkout_stack or "(stack not recorded)",
            )
        return next_due


_CONTEXTLIB_FILE = os.path.normcase(os.path.abspath(contextlib.__file__))


def _caller_stack() -> str:
    """The checkout's stack without this library's own frames at the end (for leak reports)."""
    frames = traceback.extract_stack(limit=LEAK_STACK_FRAMES + 12)[:-1]
    while frames:
        filename = os.path.normcase(os.path.abspath(frames[-1].filename))
        if filename.startswith(_PACKAGE_DIR + os.sep) or filename == _CONTEXTLIB_FILE:
            frames.pop()
        else:
            break
    return "".join(traceback.format_list(frames[-LEAK_STACK_FRAMES:]))

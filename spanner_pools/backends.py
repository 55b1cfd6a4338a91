"""One backend per ``POOL`` mode behind one small interface; the manager picks one by name.

* :class:`ManagedBackend` (``pinging``, and ``transaction_pinging`` as an alias): the managed
  ``PingingPool`` of :mod:`.pools` and its :class:`~.pinger.Pinger`;
* :class:`BurstyBackend` (``bursty``): the client's ``BurstyPool``, no pinger;
* :class:`MultiplexedBackend` (``multiplexed``): no pool, the database's multiplexed session.

Each backend turns the client's errors into the library's (:mod:`.faults`), tells the breaker
what requests wait for while Spanner is down, and knows how to give its sessions back at close.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from google.cloud.spanner_v1.pool import AbstractSessionPool, BurstyPool
from google.cloud.spanner_v1.session import Session

from . import _compat, _rpc
from ._channel import Breaker
from .errors import PoolClosed, PoolMisconfigured, PoolUnavailable
from .faults import TRANSPORT_ERRORS, classify_setup_error
from .owner import with_process_labels
from .pinger import Pinger
from .pools import ManagedPingingPool, ManagedPool, ManagedTransactionPingingPool
from .settings import SpannerSettings
from .stats import PoolCounters

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendContext",
    "BurstyBackend",
    "ManagedBackend",
    "MultiplexedBackend",
]

Log = logging.Logger | logging.LoggerAdapter[Any]
_PROBE_TEXT = "a probe RPC (run by the next request{pinger}, at most every 1.5 s) gets through"


@dataclass(frozen=True)
class BackendContext:
    """What every backend is built from (one constructor for all of them)."""

    settings: SpannerSettings
    counters: PoolCounters
    log: Log
    #: Name of the background thread, if the mode has one.
    thread_name: str = "spanner-pools-pinger"
    on_pass: Callable[[], None] = lambda: None
    on_pinger_exit: Callable[[], None] = lambda: None
    span_attributes: Mapping[str, Any] = field(default_factory=dict)


class Backend(Protocol):
    """What the manager needs of a ``POOL`` mode."""

    #: What ``Database(pool=...)`` gets (None: the client's default, multiplexed).
    pool: AbstractSessionPool | None
    #: Whether a checkout can wait for a session to come free (counted as ``waits``).
    waits: bool

    def attach(self, database: Any, breaker: Breaker) -> None:
        """Bind to the database (no RPC) and tell the breaker how to recover."""

    def start(self) -> None:
        """Start background work (the pinger), if any."""

    def fill(self) -> None:
        """Create the sessions now, so a setting the server refuses shows at open."""

    def get(self, timeout: float) -> Session:
        """A session for a handle; ``PoolError``/``PoolMisconfigured`` when none can be had."""

    def put(self, session: Session) -> None:
        """Take a handle's session back (deleted after close)."""

    def replace(self, session: Session) -> Session:
        """A new session for a lent one the server lost; stays lent."""

    def ping(self) -> int:
        """Ping every idle session now; how many."""

    def gauges(self) -> dict[str, Any]:
        """``size``, ``sessions``, ``available``, ``waiting``, ``oldest_session_age``."""

    def setup_error(self) -> PoolMisconfigured | None:
        """The settings the server refused, if that is why no session can be had."""

    def pinger_alive(self) -> bool: ...

    def pause(self) -> bool:
        """Hold background RPCs off across ``fork()``; True if something must be resumed."""

    def resume(self) -> None: ...

    def stop(self, timeout: float) -> bool:
        """Stop lending and background work; True once no background thread is running."""

    def clear(self) -> None:
        """Delete the idle sessions on the server (after :meth:`stop`)."""


def _classified(call: Callable[[], Session]) -> Session:
    """Run a checkout of the client's own pool code, turning its errors into ours."""
    try:
        return call()
    except TRANSPORT_ERRORS as exc:
        raise PoolUnavailable(f"Spanner is unreachable: {exc}") from exc
    except Exception as exc:
        setup_error = classify_setup_error(exc)
        if setup_error is None:
            raise
        raise setup_error from exc


class ManagedBackend:
    """``pinging``/``transaction_pinging``: the managed pool and its pinger."""

    waits = True

    def __init__(self, ctx: BackendContext) -> None:
        settings = ctx.settings
        kwargs: dict[str, Any] = {
            "size": settings.pool_size,
            "default_timeout": settings.pool_timeout,
            "ping_interval": settings.ping_interval,
            "labels": with_process_labels(settings.labels),  # dead workers' are reaped
            "database_role": settings.database_role,
            "max_session_age": settings.max_session_age,
            "rpc_timeout": settings.rpc_timeout,
            "counters": ctx.counters,
        }
        self._settings = settings
        self.managed: ManagedPool
        if settings.pool == "transaction_pinging":
            with warnings.catch_warnings():
                # The client deprecates the class; the README says what it does instead.
                warnings.simplefilter("ignore", DeprecationWarning)
                self.managed = ManagedTransactionPingingPool(**kwargs)
        else:
            self.managed = ManagedPingingPool(**kwargs)
        self.managed.log = ctx.log
        self.pool: AbstractSessionPool | None = self.managed
        self._ctx = ctx
        self.pinger: Pinger | None = None

    def attach(self, database: Any, breaker: Breaker) -> None:
        pool = self.managed
        # The pool's own bind() (no RPC): the role is DATABASE_ROLE, else the database's.
        pool.bind(database)
        ctx = self._ctx
        self.pinger = pinger = Pinger(
            pool,
            name=ctx.thread_name,
            interval=ctx.settings.ping_interval,
            log=ctx.log,
            probe=breaker.probe_now,
            on_pass=ctx.on_pass,
            on_exit=ctx.on_pinger_exit,
            span_attributes=ctx.span_attributes,
        )
        breaker.waiting_for = (
            _PROBE_TEXT.format(pinger=" or by the pinger")
            + "; then every session is checked with GetSession before reuse"
        )

        def recovered() -> None:
            pool.verify_all()
            pinger.wake()

        breaker.on_recover = recovered

    def start(self) -> None:
        if self.pinger is not None:
            self.pinger.start()

    def fill(self) -> None:
        self.managed.replenish()

    def get(self, timeout: float) -> Session:
        return self.managed.get(timeout=timeout)  # raises the pool's own errors

    def put(self, session: Session) -> None:
        self.managed.put(session)

    def replace(self, session: Session) -> Session:
        return self.managed.replace(session)

    def ping(self) -> int:
        try:
            return self.managed.ping(force=True)
        except TRANSPORT_ERRORS as exc:
            raise PoolUnavailable(f"Spanner is unreachable: {exc}") from exc

    def gauges(self) -> dict[str, Any]:
        return self.managed.pool_stats()

    def setup_error(self) -> PoolMisconfigured | None:
        return self.managed.setup_error

    def pinger_alive(self) -> bool:
        return self.pinger is not None and self.pinger.is_alive()

    def pause(self) -> bool:
        return self.pinger is not None and self.pinger.pause()

    def resume(self) -> None:
        if self.pinger is not None:
            self.pinger.resume()

    def stop(self, timeout: float) -> bool:
        self.managed.mark_closed()
        return self.pinger is None or self.pinger.stop(timeout=max(timeout, 1.0))

    def clear(self) -> None:
        self.managed.clear()


class _Unpinged:
    """What the modes without a pinger share."""

    waits = False
    mode: ClassVar[str]

    def __init__(self, ctx: BackendContext) -> None:
        self._settings = ctx.settings
        self._counters = ctx.counters
        self._log = ctx.log
        self._database: Any = None
        self._setup_error: PoolMisconfigured | None = None
        self._closed = False

    def attach(self, database: Any, breaker: Breaker) -> None:
        self._database = database
        breaker.waiting_for = _PROBE_TEXT.format(pinger="") + f"; {self.mode} mode has no pinger"

    def start(self) -> None:
        """No background work."""

    def get(self, timeout: float) -> Session:
        try:
            session = _classified(self._checkout)
        except PoolMisconfigured as exc:
            self._setup_error = exc
            raise
        self._setup_error = None
        return session

    def _checkout(self) -> Session:
        raise NotImplementedError

    def ping(self) -> int:
        return 0

    def setup_error(self) -> PoolMisconfigured | None:
        return self._setup_error

    def pinger_alive(self) -> bool:
        return False

    def pause(self) -> bool:
        return False

    def resume(self) -> None:
        """Nothing was paused."""

    def stop(self, timeout: float) -> bool:
        self._closed = True
        return True


class BurstyBackend(_Unpinged):
    """``bursty``: the client's ``BurstyPool``, checked with GetSession at every checkout."""

    mode = "bursty"

    def __init__(self, ctx: BackendContext) -> None:
        super().__init__(ctx)
        settings = ctx.settings
        self.bursty = BurstyPool(
            target_size=settings.pool_size,
            labels=with_process_labels(settings.labels),
            database_role=settings.database_role,
        )
        self.pool: AbstractSessionPool | None = self.bursty

    def attach(self, database: Any, breaker: Breaker) -> None:
        super().attach(database, breaker)
        self.bursty.bind(database)  # BurstyPool binds without an RPC

    def fill(self) -> None:
        self.put(self.get(timeout=0))

    def _checkout(self) -> Session:
        if self._closed:
            raise PoolClosed("the pool is closed")
        session: Session = self.bursty.get()
        return session

    def put(self, session: Session) -> None:
        if not self._closed:
            self.bursty.put(session)
            return
        try:
            _rpc.delete_session(self._database, session, timeout=self._settings.rpc_timeout)
        except Exception as exc:  # noqa: BLE001 - best effort after close
            self._log.warning("could not delete session: %s", exc)

    def replace(self, session: Session) -> Session:
        new = _compat.new_session(self.bursty)
        new.create()
        self._counters.add(sessions_replaced=1, sessions_created=1)
        return new

    def gauges(self) -> dict[str, Any]:
        idle = _compat.bursty_idle_count(self.bursty)
        return {"size": self._settings.pool_size, "sessions": idle, "available": idle}

    def clear(self) -> None:
        self.bursty.clear()


class MultiplexedBackend(_Unpinged):
    """``multiplexed``: no pool; every handle shares the database's multiplexed session."""

    mode = "multiplexed"
    pool: AbstractSessionPool | None = None

    def __init__(self, ctx: BackendContext) -> None:
        super().__init__(ctx)
        self._session: Session | None = None

    def fill(self) -> None:
        self.get(timeout=0)

    def _checkout(self) -> Session:
        if self._session is None:
            # The client's own sessions manager keeps the multiplexed session fresh.
            self._session = _compat.multiplexed_session(self._database)
        return self._session

    def put(self, session: Session) -> None:
        """The multiplexed session is shared, never lent: nothing to return."""

    def replace(self, session: Session) -> Session:
        _compat.reset_multiplexed_session(self._database)
        self._session = None
        return _classified(self._checkout)

    def gauges(self) -> dict[str, Any]:
        held = int(self._session is not None)
        return {"size": held, "sessions": held, "available": held}

    def clear(self) -> None:
        if self._session is not None:
            _compat.end_multiplexed_maintenance(self._database)


#: ``POOL`` mode -> backend class: the one place a mode is chosen.
BACKENDS: dict[str, Callable[[BackendContext], Backend]] = {
    "pinging": ManagedBackend,
    "transaction_pinging": ManagedBackend,
    "bursty": BurstyBackend,
    "multiplexed": MultiplexedBackend,
}

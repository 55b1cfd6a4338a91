"""The per-process gRPC channel to Spanner: bounded deadlines and a circuit breaker.

``Database.spanner_api`` builds its channel with the client's long default deadlines (3600 s
for Commit) and no bound on reconnect backoff, and a streaming read retries UNAVAILABLE in a
loop with no end. The manager gives the database a channel built here instead:

* every RPC gets at most ``RPC_TIMEOUT`` seconds;
* once an RPC failed with UNAVAILABLE (Spanner unreachable), the :class:`Breaker` opens:
  request RPCs fail at once with :class:`PoolUnavailable` (a 503), which also ends the client's
  endless retry loop for streaming reads. It has its own probe, due 0.25 s after opening and
  then with a backoff capped at 1.5 s whatever ``PING_INTERVAL`` or ``POOL`` is: the first request
  that finds it due runs the probe (one short RPC) and goes on if Spanner answered. The pool's
  own RPCs (run inside :func:`maintenance`) always go out, and any RPC that succeeds closes it;
* after an outage the channel reconnects within about a second of the server coming back.
"""

from __future__ import annotations

import collections
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import grpc
from google.cloud.spanner_v1 import Client
from google.cloud.spanner_v1.services.spanner import SpannerClient
from google.cloud.spanner_v1.services.spanner.transports.grpc import SpannerGrpcTransport

from . import _compat
from .errors import PoolUnavailable

__all__ = ["Breaker", "build_spanner_api", "maintenance"]

logger = logging.getLogger(__name__)

SPANNER_DATA_SCOPE = "https://www.googleapis.com/auth/spanner.data"

CHANNEL_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.max_send_message_length", -1),
    ("grpc.max_receive_message_length", -1),
    ("grpc.keepalive_time_ms", 120_000),
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 1_000),
    # Each manager's channel keeps its own connections: gRPC otherwise shares subchannels
    # between channels to the same target, so one pool's reconnect backoff (after an outage
    # it saw) would fail another pool's first RPCs.
    ("grpc.use_local_subchannel_pool", 1),
]

_local = threading.local()


@contextmanager
def maintenance() -> Iterator[None]:
    """Mark this thread's RPCs as the pool's own (pings, session creation): never refused."""
    previous = getattr(_local, "maintenance", False)
    _local.maintenance = True
    try:
        yield
    finally:
        _local.maintenance = previous


@contextmanager
def _probing() -> Iterator[None]:
    """The breaker's probe: it waits (within its deadline) for the channel to connect, instead
    of failing at once while gRPC is still in reconnect backoff after the outage."""
    _local.probing = True
    try:
        with maintenance():
            yield
    finally:
        _local.probing = False


class Breaker:
    """Whether Spanner looks unreachable, judged from RPC outcomes, with its own probe.

    Closed: every RPC goes out. An RPC ending UNAVAILABLE opens it: request RPCs are refused
    with :class:`PoolUnavailable` until a probe gets through. The probe is due
    ``FIRST_PROBE`` s after opening, then after each failed probe with the wait doubled up to
    ``MAX_PROBE`` s; the first refused caller that finds it due runs it (one at a time). No
    thread watches the channel: a thread blocked inside gRPC would make ``fork()`` unsafe.
    ``probe`` (set by the manager) makes one short RPC and returns if the server answered at
    all; ``on_recover`` runs after the breaker closed again.
    """

    FIRST_PROBE = 0.25
    MAX_PROBE = 1.5

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        log: logging.Logger | logging.LoggerAdapter[Any] = logger,
    ) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._opened_at: float | None = None
        self._next_probe = 0.0
        self._wait = self.FIRST_PROBE
        self._probing = False
        self.log = log
        self.probe: Callable[[], None] | None = None
        self.on_recover: Callable[[], None] | None = None
        #: What the log says the pool waits for while open (set by the manager per mode).
        self.waiting_for = "a probe RPC (run by the next request, at most every 1.5 s) gets through"
        self.trips = 0

    @property
    def down(self) -> bool:
        return self._opened_at is not None

    def seconds_down(self) -> float:
        opened = self._opened_at
        return 0.0 if opened is None else self._clock() - opened

    def record(self, code: grpc.StatusCode | None) -> None:
        """An RPC ended with ``code``: UNAVAILABLE opens the breaker, OK closes it."""
        if code is grpc.StatusCode.UNAVAILABLE:
            self.trip()
        elif code is grpc.StatusCode.OK:
            self.reset()

    def trip(self) -> None:
        with self._lock:
            if self._opened_at is not None:
                return
            now = self._clock()
            self._opened_at = now
            self._wait = self.FIRST_PROBE
            self._next_probe = now + self._wait
            self.trips += 1
        self.log.warning(
            "Spanner is unreachable (an RPC failed with UNAVAILABLE); requests fail fast with "
            "503 until %s",
            self.waiting_for,
        )

    def reset(self) -> None:
        with self._lock:
            opened, self._opened_at = self._opened_at, None
            self._probing = False
        if opened is None:
            return
        self.log.warning(
            "Spanner answers again after %.2fs; serving requests", self._clock() - opened
        )
        if self.on_recover is not None:
            try:
                self.on_recover()
            except Exception:  # noqa: BLE001 - recovery bookkeeping must not fail a request
                self.log.exception("recovery step after an outage failed")

    def admit(self) -> None:
        """Let a request RPC through, run the probe if it is due, or raise PoolUnavailable."""
        if self._opened_at is None:
            return
        with self._lock:
            if self._opened_at is None:
                return
            now = self._clock()
            run_probe = not self._probing and now >= self._next_probe and self.probe is not None
            if run_probe:
                self._probing = True
            retry_in = max(self._next_probe - now, 0.0)
        if run_probe and self._run_probe():
            return
        raise PoolUnavailable(
            f"Spanner is unreachable (down for {self.seconds_down():.1f}s); failing fast until "
            f"{self.waiting_for}",
            retry_after=max(1, math.ceil(retry_in)),
        )

    def probe_now(self) -> bool:
        """Run the probe now if the breaker is open (the pinger's pass); True if Spanner
        answers or the breaker was closed anyway."""
        with self._lock:
            if self._opened_at is None:
                return True
            if self._probing or self.probe is None:
                return False
            self._probing = True
        return self._run_probe()

    def _run_probe(self) -> bool:
        """Run the probe in this thread; True if Spanner answered (the breaker is closed)."""
        assert self.probe is not None
        try:
            with _probing():
                self.probe()
        except Exception as exc:  # noqa: BLE001 - any failure means "still down"
            with self._lock:
                self._probing = False
                self._wait = min(self._wait * 2, self.MAX_PROBE)
                self._next_probe = self._clock() + self._wait
            self.log.info("probe failed (%s); next in %.2fs", type(exc).__name__, self._wait)
            return False
        self.reset()
        return True


class _CallDetails(
    collections.namedtuple(
        "_CallDetails",
        ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression"),
    ),
    grpc.ClientCallDetails,  # type: ignore[misc]
):
    """A copy of a call's details with another timeout."""


class _DeadlineInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):  # type: ignore[misc]
    """Caps the deadline of every call at ``cap`` seconds; asks the breaker about request RPCs."""

    def __init__(self, cap: float, breaker: Breaker) -> None:
        self.cap = cap
        self.breaker = breaker

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        if not getattr(_local, "maintenance", False):
            self.breaker.admit()
        timeout = details.timeout
        capped = self.cap if timeout is None else min(timeout, self.cap)
        return _CallDetails(
            details.method,
            capped,
            details.metadata,
            details.credentials,
            True if getattr(_local, "probing", False) else getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        outcome = continuation(self._details(details), request)
        if outcome.done():  # the blocking path: the call has finished
            self.breaker.record(outcome.code())
        return outcome

    def intercept_unary_stream(
        self,
        continuation: Callable[..., Any],
        details: grpc.ClientCallDetails,
        request: Any,
    ) -> Any:
        call = continuation(self._details(details), request)

        def finished() -> None:
            self.breaker.record(call.code())

        if not call.add_callback(finished):
            finished()  # it had already ended
        return call


def build_spanner_api(
    client: Client, *, emulator_host: str | None, rpc_timeout: float
) -> tuple[SpannerClient, Breaker]:
    """A ``SpannerClient`` on a new channel owned by the calling process, and its breaker."""
    breaker = Breaker()
    interceptor = _DeadlineInterceptor(rpc_timeout, breaker)
    if emulator_host is not None:
        channel = grpc.insecure_channel(emulator_host, options=CHANNEL_OPTIONS)
        transport = SpannerGrpcTransport(channel=grpc.intercept_channel(channel, interceptor))
        return SpannerClient(transport=transport, client_info=_compat.client_info(client)), breaker

    def make_channel(host: str, **kwargs: Any) -> grpc.Channel:
        options = dict(kwargs.pop("options", None) or [])
        options.update(CHANNEL_OPTIONS)
        channel = SpannerGrpcTransport.create_channel(host, options=list(options.items()), **kwargs)
        return grpc.intercept_channel(channel, interceptor)

    credentials = client.credentials
    if hasattr(credentials, "with_scopes"):
        credentials = credentials.with_scopes((SPANNER_DATA_SCOPE,))
    options = _compat.client_options(client)
    host = getattr(options, "api_endpoint", None) or "spanner.googleapis.com"
    transport = SpannerGrpcTransport(
        host=host,
        credentials=credentials,
        channel=make_channel,
        client_info=_compat.client_info(client),
    )
    return SpannerClient(transport=transport, client_info=_compat.client_info(client)), breaker

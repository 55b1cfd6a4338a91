"""The per-process gRPC channel to Spanner: bounded deadlines and fail-fast during outages.

``Database.spanner_api`` builds its channel with the client's long default deadlines (3600 s
for Commit) and no bound on reconnect backoff, and a streaming read retries UNAVAILABLE in a
loop with no end. The manager gives the database a channel built here instead:

* every RPC gets at most ``RPC_TIMEOUT`` seconds;
* once an RPC failed with UNAVAILABLE (Spanner unreachable), request RPCs fail at once with
  :class:`PoolUnavailable` (a 503), which also ends the client's endless retry loop for
  streaming reads; the pinger's own RPCs (run inside :func:`maintenance`) still go out, and
  the first one that succeeds lets requests through again;
* after an outage the channel reconnects within about a second of the server coming back.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import grpc
from google.cloud.spanner_v1 import Client
from google.cloud.spanner_v1.services.spanner import SpannerClient
from google.cloud.spanner_v1.services.spanner.transports.grpc import SpannerGrpcTransport

from .errors import PoolUnavailable

__all__ = ["ChannelHealth", "build_spanner_api", "maintenance"]

SPANNER_DATA_SCOPE = "https://www.googleapis.com/auth/spanner.data"

CHANNEL_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.max_send_message_length", -1),
    ("grpc.max_receive_message_length", -1),
    ("grpc.keepalive_time_ms", 120_000),
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 1_000),
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


class ChannelHealth:
    """Whether Spanner looked unreachable, judged from the outcome of the last RPCs.

    UNAVAILABLE marks it down; any successful RPC (a ping, in the pinger's probe) marks it up.
    No thread watches the channel: a thread blocked inside gRPC would make ``fork()`` unsafe.
    """

    def __init__(self) -> None:
        self.down = False

    def record(self, code: grpc.StatusCode | None) -> None:
        if code is grpc.StatusCode.UNAVAILABLE:
            self.down = True
        elif code is grpc.StatusCode.OK:
            self.down = False


class _CallDetails(
    collections.namedtuple(
        "_CallDetails",
        ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression"),
    ),
    grpc.ClientCallDetails,  # type: ignore[misc]
):
    """A copy of a call's details with another timeout."""


class _DeadlineInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):  # type: ignore[misc]
    """Caps the deadline of every call at ``cap`` seconds; refuses request RPCs while down."""

    def __init__(self, cap: float, health: ChannelHealth) -> None:
        self.cap = cap
        self.health = health

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        if self.health.down and not getattr(_local, "maintenance", False):
            raise PoolUnavailable(
                "Spanner is unreachable (the last RPC failed with UNAVAILABLE); failing fast "
                "until the pinger gets through again"
            )
        timeout = details.timeout
        capped = self.cap if timeout is None else min(timeout, self.cap)
        return _CallDetails(
            details.method,
            capped,
            details.metadata,
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        outcome = continuation(self._details(details), request)
        if outcome.done():  # the blocking path: the call has finished
            self.health.record(outcome.code())
        return outcome

    def intercept_unary_stream(
        self,
        continuation: Callable[..., Any],
        details: grpc.ClientCallDetails,
        request: Any,
    ) -> Any:
        call = continuation(self._details(details), request)

        def finished() -> None:
            self.health.record(call.code())

        if not call.add_callback(finished):
            finished()  # it had already ended
        return call


def build_spanner_api(
    client: Client, *, emulator_host: str | None, rpc_timeout: float
) -> tuple[SpannerClient, ChannelHealth]:
    """A ``SpannerClient`` on a new channel owned by the calling process, and its health."""
    health = ChannelHealth()
    interceptor = _DeadlineInterceptor(rpc_timeout, health)
    if emulator_host is not None:
        channel = grpc.insecure_channel(emulator_host, options=CHANNEL_OPTIONS)
        transport = SpannerGrpcTransport(channel=grpc.intercept_channel(channel, interceptor))
        return SpannerClient(transport=transport, client_info=client._client_info), health

    def make_channel(host: str, **kwargs: Any) -> grpc.Channel:
        options = dict(kwargs.pop("options", None) or [])
        options.update(CHANNEL_OPTIONS)
        channel = SpannerGrpcTransport.create_channel(host, options=list(options.items()), **kwargs)
        return grpc.intercept_channel(channel, interceptor)

    credentials = client.credentials
    if hasattr(credentials, "with_scopes"):
        credentials = credentials.with_scopes((SPANNER_DATA_SCOPE,))
    options = client._client_options
    host = getattr(options, "api_endpoint", None) or "spanner.googleapis.com"
    transport = SpannerGrpcTransport(
        host=host, credentials=credentials, channel=make_channel, client_info=client._client_info
    )
    return SpannerClient(transport=transport, client_info=client._client_info), health

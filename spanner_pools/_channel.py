"""The per-process gRPC channel to Spanner, with a deadline on every call.

``Database.spanner_api`` builds its channel with the client's long default deadlines (3600 s
for Commit) and no bound on reconnect backoff. The manager gives the database a channel
built here instead: every RPC gets at most ``RPC_TIMEOUT`` seconds, and after an outage the
channel reconnects within about a second of the server coming back.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from google.cloud.spanner_v1 import Client
from google.cloud.spanner_v1.services.spanner import SpannerClient
from google.cloud.spanner_v1.services.spanner.transports.grpc import SpannerGrpcTransport

__all__ = ["build_spanner_api"]

SPANNER_DATA_SCOPE = "https://www.googleapis.com/auth/spanner.data"

CHANNEL_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.max_send_message_length", -1),
    ("grpc.max_receive_message_length", -1),
    ("grpc.keepalive_time_ms", 120_000),
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 1_000),
]


class _CallDetails(
    collections.namedtuple(
        "_CallDetails",
        ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression"),
    ),
    grpc.ClientCallDetails,  # type: ignore[misc]
):
    """A copy of a call's details with another timeout."""


class _DeadlineInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):  # type: ignore[misc]
    """Caps the deadline of every call at ``cap`` seconds."""

    def __init__(self, cap: float) -> None:
        self.cap = cap

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
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
        return continuation(self._details(details), request)

    def intercept_unary_stream(
        self,
        continuation: Callable[..., Iterator[Any]],
        details: grpc.ClientCallDetails,
        request: Any,
    ) -> Any:
        return continuation(self._details(details), request)


def build_spanner_api(
    client: Client, *, emulator_host: str | None, rpc_timeout: float
) -> SpannerClient:
    """A ``SpannerClient`` on a new channel owned by the calling process."""
    interceptor = _DeadlineInterceptor(rpc_timeout)
    if emulator_host is not None:
        channel = grpc.insecure_channel(emulator_host, options=CHANNEL_OPTIONS)
        transport = SpannerGrpcTransport(channel=grpc.intercept_channel(channel, interceptor))
        return SpannerClient(transport=transport, client_info=client._client_info)

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
    return SpannerClient(transport=transport, client_info=client._client_info)

"""What one process builds for a pool: client, database, channel with its breaker, and the
backend of the ``POOL`` mode. No RPC and no thread until the manager opens it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from google.auth.credentials import AnonymousCredentials
from google.cloud.spanner_v1 import Client
from google.cloud.spanner_v1.database import Database

from . import _compat, _rpc
from ._channel import Breaker, build_spanner_api
from ._compat import NO_BUILTIN_METRICS
from ._gevent import init_grpc_for_gevent
from .backends import BACKENDS, Backend, BackendContext
from .settings import SpannerSettings
from .stats import PoolCounters

__all__ = ["Built", "build"]


@dataclass
class Built:
    """What one process built: dropped as a whole after fork or close."""

    client: Client
    database: Database
    backend: Backend
    breaker: Breaker
    #: Set by close(): the channel is closed once no thread uses it (pinger, loans).
    retiring: bool = False
    pinger_abandoned: bool = False  # close() stopped waiting for it: it cleans up itself
    transport_closed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def close_channel_if_unused(self, *, lent: int, log: Any, pinger_exiting: bool = False) -> None:
        """Close the channel once closing began, the pinger ended and nothing is lent."""
        pinger_running = self.backend.pinger_alive() and not pinger_exiting
        with self.lock:
            if not self.retiring or self.transport_closed or lent or pinger_running:
                return
            self.transport_closed = True
        try:
            self.database.spanner_api.transport.close()
        except Exception as exc:  # noqa: BLE001 - closing must finish
            log.warning("error while closing the channel: %s", exc)


def build_client(settings: SpannerSettings) -> Client:
    """The ``Client``: anonymous against an emulator; else the key file in ``CREDENTIALS``
    or Application Default Credentials (discovery may take seconds: the manager caches a
    failure)."""
    if settings.emulator_host is not None:
        return Client(
            project=settings.project,
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": settings.emulator_host},
            **NO_BUILTIN_METRICS,
        )
    credentials = None
    if settings.credentials is not None:
        from google.oauth2 import service_account

        credentials = service_account.Credentials.from_service_account_file(settings.credentials)
    return Client(project=settings.project, credentials=credentials)


def build(
    settings: SpannerSettings,
    *,
    alias: str,
    counters: PoolCounters,
    log: logging.Logger | logging.LoggerAdapter[Any],
    on_pass: Callable[[], None],
    on_pinger_exit: Callable[[], None],
    span_attributes: dict[str, Any],
) -> Built:
    """Client, database, backend and breaker of one process: no RPC yet, no thread started."""
    init_grpc_for_gevent()
    client = build_client(settings)
    backend = BACKENDS[settings.pool](
        BackendContext(
            settings=settings,
            counters=counters,
            log=log,
            thread_name=f"spanner-pools-pinger:{alias}:{settings.database}",
            on_pass=on_pass,
            on_pinger_exit=on_pinger_exit,
            span_attributes=span_attributes,
        )
    )
    # Database(pool=...) does not bind; instance.database() would (a network call).
    database = Database(
        settings.database,
        client.instance(settings.instance),
        pool=backend.pool,
        database_role=settings.database_role,
    )
    api, breaker = build_spanner_api(
        client, emulator_host=settings.emulator_host, rpc_timeout=settings.rpc_timeout
    )
    _compat.use_spanner_api(database, api)
    breaker.log = log
    breaker.probe = lambda: _rpc.probe(database)
    backend.attach(database, breaker)
    return Built(client=client, database=database, backend=backend, breaker=breaker)

"""The pool's own RPCs, each with a short deadline and no client-side retry.

They go straight to ``database.spanner_api`` (the per-process channel of :mod:`._channel`)
inside :func:`~._channel.maintenance`, so the breaker never refuses them, with the client's
routing headers (:func:`._compat.metadata`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from google.api_core.exceptions import NotFound
from google.cloud.spanner_v1.session import Session
from google.cloud.spanner_v1.types import BatchCreateSessionsRequest, ExecuteSqlRequest
from google.cloud.spanner_v1.types import Session as SessionProto

from . import _compat
from ._channel import maintenance

__all__ = [
    "DELETE_TIMEOUT",
    "PING_TIMEOUT",
    "batch_create_sessions",
    "delete_session",
    "get_session",
    "ping",
    "probe",
]

#: Deadline of one ping or session check, as in the Go client.
PING_TIMEOUT = 1.0
#: Deadline of one DeleteSession: shutdown must not wait long on an unreachable server.
DELETE_TIMEOUT = 2.0
#: The session name a probe asks for: no session has it, so the answer is NOT_FOUND.
PROBE_SESSION_ID = "spanner-pools-probe"


_metadata = _compat.metadata


def batch_create_sessions(
    database: Any,
    count: int,
    *,
    labels: Mapping[str, str],
    database_role: str | None,
    timeout: float,
) -> Any:
    """One BatchCreateSessions carrying the labels and role (the client's ``bind()`` drops
    labels); the server may return fewer than ``count`` sessions."""
    request = BatchCreateSessionsRequest(
        database=database.name,
        session_count=count,
        session_template=SessionProto(labels=dict(labels), creator_role=database_role or ""),
    )
    with maintenance():
        return database.spanner_api.batch_create_sessions(
            request=request, metadata=_metadata(database, leader=True), timeout=timeout, retry=None
        )


def ping(database: Any, session: Session, *, timeout: float = PING_TIMEOUT) -> None:
    """``SELECT 1`` on the session: keeps it from idling out."""
    request = ExecuteSqlRequest(session=session.name, sql="SELECT 1")
    with maintenance():
        database.spanner_api.execute_sql(
            request=request, metadata=_metadata(database), timeout=timeout, retry=None
        )


def get_session(database: Any, session: Session, *, timeout: float = PING_TIMEOUT) -> Any:
    """GetSession: the server's ``create_time`` of the session; ``NotFound`` if it is gone."""
    with maintenance():
        proto = database.spanner_api.get_session(
            name=session.name, metadata=_metadata(database), timeout=timeout, retry=None
        )
    return proto.create_time


def delete_session(database: Any, session: Session, *, timeout: float) -> None:
    """DeleteSession, ignoring a session the server already forgot."""
    with contextlib.suppress(NotFound), maintenance():
        database.spanner_api.delete_session(
            name=session.name,
            metadata=_metadata(database),
            timeout=min(timeout, DELETE_TIMEOUT),
            retry=None,
        )


def probe(database: Any, *, timeout: float = PING_TIMEOUT) -> None:
    """Ask the server for a session that does not exist: any answer but a transport error
    (NOT_FOUND, or even PERMISSION_DENIED) shows Spanner can be reached again."""
    from .faults import TRANSPORT_ERRORS

    try:
        with maintenance():
            database.spanner_api.get_session(
                name=f"{database.name}/sessions/{PROBE_SESSION_ID}",
                metadata=_metadata(database),
                timeout=timeout,
                retry=None,
            )
    except TRANSPORT_ERRORS:
        raise
    except Exception:  # noqa: BLE001 - the server answered, which is all a probe asks
        return

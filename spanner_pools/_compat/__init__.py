"""Every use of a private part of google-cloud-spanner, in one package, each with its reason.

Checked against google-cloud-spanner 3.56.0 (the lowest version ``pyproject.toml`` allows) and
3.71.0 (the newest tested); the CI matrix runs the suite on both. This module holds the
client's internals the core needs; :mod:`.dbapi` the DB-API ``Connection`` subclass (its
private state) and :mod:`.django_spanner` the patch of django-google-spanner's auto fields.
Attributes the managed pools inherit from ``AbstractSessionPool`` (``_database``, ``_labels``,
``_database_role``, ``_new_session``) are part of subclassing it and stay in :mod:`..pools` and
its parts (:mod:`.._pool_rpcs`).
"""

from __future__ import annotations

import inspect
from typing import Any

from google.cloud.spanner_v1 import Client
from google.cloud.spanner_v1._helpers import (
    _metadata_with_leader_aware_routing,
    _metadata_with_prefix,
)
from google.cloud.spanner_v1.session import Session

__all__ = [
    "NO_BUILTIN_METRICS",
    "bursty_idle_count",
    "client_info",
    "client_options",
    "copy_mutations",
    "database_instance",
    "end_multiplexed_maintenance",
    "metadata",
    "multiplexed_session",
    "new_session",
    "reset_multiplexed_session",
    "session_with_id",
    "use_spanner_api",
]


#: ``Client(**NO_BUILTIN_METRICS)``: no built-in metrics export threads. The keyword came
#: after 3.56, where those metrics are off unless an environment variable turns them on.
NO_BUILTIN_METRICS: dict[str, Any] = (
    {"disable_builtin_metrics": True}
    if "disable_builtin_metrics" in inspect.signature(Client.__init__).parameters
    else {}
)


def metadata(database: Any, leader: bool = False) -> list[tuple[str, str]]:
    """The routing headers the client sends with its own calls (``_helpers``: same since 3.0)
    for the pool's direct RPCs; ``_route_to_leader_enabled`` is the database's own switch."""
    headers: list[tuple[str, str]] = _metadata_with_prefix(database.name)
    if leader and database._route_to_leader_enabled:
        headers.append(_metadata_with_leader_aware_routing(True))
    return headers


def use_spanner_api(database: Any, api: Any) -> None:
    """Give the database our per-process channel: ``Database.spanner_api`` is a lazily built
    read-only property over ``_spanner_api``, with the client's long deadlines."""
    database._spanner_api = api


def client_info(client: Any) -> Any:
    """The client's user-agent info, so our channel reports the same library version."""
    return client._client_info


def client_options(client: Any) -> Any:
    """The client's ``client_options`` (``api_endpoint``), to build the channel it would."""
    return client._client_options


def session_with_id(session: Session, session_id: str) -> Session:
    """A ``Session`` object for a session BatchCreateSessions made (``Session`` has no public
    way to wrap an existing ID; the client's own pools set ``_session_id`` too)."""
    session._session_id = session_id
    return session


def multiplexed_session(database: Any) -> Session:
    """The database's multiplexed session, created if needed: the client's sessions manager
    (3.56+) keeps it fresh, but only exposes it to its own ``snapshot()``/``batch()``."""
    session: Session = database.sessions_manager._get_multiplexed_session()
    return session


def reset_multiplexed_session(database: Any) -> None:
    """Forget a multiplexed session the server lost, so the next call creates a new one."""
    database.sessions_manager._multiplexed_session = None


def end_multiplexed_maintenance(database: Any) -> None:
    """Stop the sessions manager's maintenance thread at close (it has no public stop)."""
    event = getattr(database.sessions_manager, "_multiplexed_session_terminate_event", None)
    if event is not None:
        event.set()


def bursty_idle_count(pool: Any) -> int:
    """Sessions idle in a ``BurstyPool`` (its queue is its only record of them)."""
    return int(pool._sessions.qsize())


def copy_mutations(source: Any, target: Any) -> None:
    """Move a ``Batch``'s mutations to a batch of a replacement session (no public API)."""
    target._mutations = source._mutations


def new_session(pool: Any) -> Session:
    """A new, not yet created ``Session`` of a client pool (a ``BurstyPool``), with its
    labels and database role: ``AbstractSessionPool._new_session`` (same in 3.56.0 and 3.71.0)
    is what the pool itself calls, and there is no public way."""
    session: Session = pool._new_session()
    return session


def database_instance(database: Any) -> Any:
    """The ``Instance`` a ``Database`` was built with: ``Database`` keeps it as ``_instance``
    (3.56.0 and 3.71.0) and has no public accessor; the DB-API and Django need it."""
    return database._instance

"""SQLAlchemy (and Flask-SQLAlchemy) engines on a :class:`~spanner_pools.PoolManager`.

``create_engine(manager)`` returns a sqlalchemy-spanner engine whose DB-API connections are
:func:`spanner_pools.dbapi.connect` connections: no client, database or session per
connection, sessions lent per transaction. It is fork-safe without user code: connections a
child inherits are dropped (never used, never closed over the network), by a dispose after
``fork()`` and by a PID check when a connection is checked out of SQLAlchemy's pool.

Needs ``pip install "spanner-pools[sqlalchemy]"`` (SQLAlchemy and sqlalchemy-spanner).
"""

from __future__ import annotations

import logging
import os
import weakref
from typing import TYPE_CHECKING, Any

from .dbapi import PooledConnection, connect

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from .manager import PoolManager

__all__ = ["create_engine", "engine_options", "flask_config", "url"]

logger = logging.getLogger(__name__)

_INSTALL = 'SQLAlchemy on Spanner needs: pip install "spanner-pools[sqlalchemy]"'
_engines: weakref.WeakSet[Engine] = weakref.WeakSet()
_hooks_installed = False


def _require_sqlalchemy() -> None:
    try:
        import google.cloud.sqlalchemy_spanner  # noqa: F401 - registers the spanner dialect
        import sqlalchemy  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"{_INSTALL} ({exc})") from exc


def url(manager: PoolManager) -> str:
    """The ``spanner+spanner://`` URL naming the manager's database (for logs and dialects)."""
    s = manager.settings
    project = s.project or "default-project"
    return f"spanner+spanner:///projects/{project}/instances/{s.instance}/databases/{s.database}"


def engine_options(manager: PoolManager, **engine_kwargs: Any) -> dict[str, Any]:
    """``create_engine`` keyword arguments whose connections come from ``manager``.

    For Flask-SQLAlchemy's ``SQLALCHEMY_ENGINE_OPTIONS`` (see :func:`flask_config`);
    ``engine_kwargs`` are added as they are (a ``creator`` of your own is an error).
    """
    from .manager import PoolManager

    if not isinstance(manager, PoolManager):
        raise TypeError(
            f"spanner_pools.sqlalchemy expects a PoolManager, got {type(manager).__name__}"
        )
    if "creator" in engine_kwargs:
        raise TypeError(
            "engine option 'creator' is set by spanner_pools.sqlalchemy; "
            "its connections come from the PoolManager"
        )
    _require_sqlalchemy()
    _install_hooks()

    def creator() -> PooledConnection:
        return connect(manager)

    # pool_pre_ping would cost a SELECT per checkout; the manager keeps sessions alive.
    return {"creator": creator, **engine_kwargs}


def create_engine(manager: PoolManager, **engine_kwargs: Any) -> Engine:
    """A SQLAlchemy engine on ``manager``'s database; no network call until first use.

    ``engine_kwargs`` go to ``sqlalchemy.create_engine`` (``pool_size``, ``echo``,
    ``isolation_level``, ...). The engine's pool only holds idle DB-API connections, which
    hold no session; sessions are lent through the manager per transaction.
    """
    options = engine_options(manager, **engine_kwargs)
    import sqlalchemy

    engine = sqlalchemy.create_engine(url(manager), **options)
    _engines.add(engine)
    return engine


def flask_config(manager: PoolManager, **engine_kwargs: Any) -> dict[str, Any]:
    """Flask-SQLAlchemy config keys (``SQLALCHEMY_DATABASE_URI``, ``SQLALCHEMY_ENGINE_OPTIONS``)
    for an engine on ``manager``: ``app.config.update(flask_config(spanner.get_manager(app)))``
    before ``db.init_app(app)``."""
    return {
        "SQLALCHEMY_DATABASE_URI": url(manager),
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(manager, **engine_kwargs),
    }


# -- fork safety ------------------------------------------------------------------------------


def _dispose_after_fork() -> None:
    """In a forked child: forget every engine's pooled connections without closing them."""
    for engine in list(_engines):
        try:
            engine.dispose(close=False)
        except Exception as exc:  # noqa: BLE001 - a fork hook must not raise
            logger.warning("could not reset engine %s after fork: %s", engine, exc)


def _checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Drop a connection made in another process (a fork ``register_at_fork`` missed, as
    uWSGI's, or an engine not made by :func:`create_engine`, as Flask-SQLAlchemy's)."""
    if isinstance(dbapi_connection, PooledConnection) and dbapi_connection.owner_pid != os.getpid():
        from sqlalchemy import exc

        # SQLAlchemy's recipe: detach the DB-API connection so that the pool does not close it.
        record.dbapi_connection = proxy.dbapi_connection = None
        raise exc.DisconnectionError(
            f"connection made in process {dbapi_connection.owner_pid}, not in {os.getpid()}"
        )


def _install_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    from sqlalchemy import event
    from sqlalchemy.pool import Pool

    event.listen(Pool, "checkout", _checkout)
    os.register_at_fork(after_in_child=_dispose_after_fork)
    _hooks_installed = True

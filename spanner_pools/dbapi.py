"""DB-API 2.0 connections on a :class:`~spanner_pools.PoolManager`, for the ORMs.

``connect(manager)`` returns a ``google.cloud.spanner_dbapi.Connection`` (a subclass of it, so
sqlalchemy-spanner and django-google-spanner accept it) that builds no client, database or
session of its own: it uses this process's ``manager.database``, and every session it needs is
lent through ``manager.handle()``. So ORM traffic shows in ``manager.stats()`` (``in_use``,
checkouts), is watched for leaks, fails fast with :class:`~spanner_pools.PoolError` when the
pool is exhausted or Spanner unreachable, survives ``fork()`` and is cleaned up at exit.

When sessions are held:

- a transaction (``autocommit`` off, or ``BEGIN``) checks one out at its first statement and
  returns it at ``commit()``/``rollback()``;
- an autocommit query or DML statement borrows one for that statement only;
- an idle connection (in SQLAlchemy's pool, or Django's at ``CONN_MAX_AGE=None``) holds none.

``close()`` returns the session of an open transaction (rolling it back) and never clears the
shared pool. In ``POOL="multiplexed"`` mode the lent session is the multiplexed session.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._compat.dbapi import PooledConnection

if TYPE_CHECKING:
    from .manager import PoolManager

__all__ = ["PooledConnection", "connect"]


def connect(manager: PoolManager, *, read_only: bool = False, **kwargs: Any) -> PooledConnection:
    """A new DB-API connection whose sessions come from ``manager``; no network call.

    ``read_only`` and ``kwargs`` (``data_boost_enabled``, ``auto_partition_mode``, connection
    variables) are passed to ``spanner_dbapi.Connection``.
    """
    from .manager import PoolManager

    if not isinstance(manager, PoolManager):
        raise TypeError(
            f"spanner_pools.dbapi.connect(manager) expects a PoolManager, got {type(manager).__name__}"
        )
    return PooledConnection(manager, read_only=read_only, **kwargs)

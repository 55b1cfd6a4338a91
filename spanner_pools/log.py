"""Log records that name their pool: alias, database and PID in ``extra`` and in the text.

``PoolLogger(logging.getLogger(__name__), alias, database)`` wraps a module's logger (so the
logger name stays the module's). Every record gets ``record.alias``, ``record.database`` and
``record.pid`` for structured formatters, and its message starts with
``Spanner pool 'alias' (pid 1234): `` so that plain formatters show them too. The PID is read
at each call: a forked child logs its own.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import MutableMapping
from typing import Any

__all__ = ["PoolLogger", "pool_fields"]

# Frames to skip so that a record names the library function that logged, not this module:
# from 3.11 ``findCaller`` counts only frames outside the logging package (ours is one); 3.10
# starts one frame further out and needs none.
_STACK_SHIFT = 1 if sys.version_info >= (3, 11) else 0


def pool_fields(alias: str, database: str) -> dict[str, Any]:
    """The ``extra`` of a record about one pool, in this process."""
    return {"alias": alias, "database": database, "pid": os.getpid()}


class PoolLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """A ``LoggerAdapter`` adding the pool's alias, database and the current PID."""

    def __init__(self, logger: logging.Logger, alias: str, database: str) -> None:
        super().__init__(logger, {})
        self.alias = alias
        self.database = database

    def prefix(self) -> str:
        return f"Spanner pool {self.alias!r} (pid {os.getpid()}): "

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        extra = pool_fields(self.alias, self.database)
        extra.update(kwargs.get("extra") or {})
        kwargs["extra"] = extra
        return msg, kwargs

    def log(self, level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
        if not self.isEnabledFor(level):
            return
        prefix = self.prefix()
        if args:  # the message is %-formatted: a '%' in the alias must stay literal
            prefix = prefix.replace("%", "%%")
        msg, kwargs = self.process(f"{prefix}{msg}", kwargs)
        kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + _STACK_SHIFT
        self.logger.log(level, msg, *args, **kwargs)

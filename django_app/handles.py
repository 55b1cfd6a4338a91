"""The handles of one request, by alias: ``request.spanner_handles`` (see the middleware)."""

from __future__ import annotations

from collections.abc import Mapping

from spanner_pools import PoolManager
from spanner_pools.handles import HandleMap

from .managers import PoolDoesNotExist, managers

__all__ = ["RequestHandles", "RequestSessions"]


class RequestHandles(HandleMap[str]):
    """The session handles of one request, by alias (``request.spanner_handles``).

    A handle is made on first access and checks a session out on first use; ``close()`` (when
    the response is finished) returns every session once. Iterating lists the configured
    aliases without making handles.
    """

    def __init__(self, source: Mapping[str, PoolManager] | None = None) -> None:
        super().__init__(managers if source is None else source)

    def missing(self, key: str) -> KeyError:
        return PoolDoesNotExist(key, self._sources)

    def closed_message(self, key: str) -> str:
        return (
            "the request's Spanner sessions were returned when its response finished; "
            f"outside a request use django_app.managers[{key!r}].handle()"
        )


#: Deprecated name (before 0.2) of :class:`RequestHandles`.
RequestSessions = RequestHandles

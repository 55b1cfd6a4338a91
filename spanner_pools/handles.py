"""The handles of one request or app context, by name: the adapters' one per-request map.

Flask's ``spanner.handles`` (bind -> handle) and Django's ``request.spanner_handles`` (alias
-> handle) are both a :class:`HandleMap` over a mapping of names to pool managers: a handle is
made on first access (a session is checked out only when it is first used), iterating lists
the names without making handles, and :meth:`HandleMap.close` returns every session once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from typing import Protocol, TypeVar

from .errors import HandleClosed
from .handle import SessionHandle

__all__ = ["HandleMap", "HandleSource"]

logger = logging.getLogger(__name__)

K = TypeVar("K")


class HandleSource(Protocol):
    """What a :class:`HandleMap` needs of a pool manager: a new request-scoped handle."""

    def handle(self) -> SessionHandle: ...


class HandleMap(Mapping[K, SessionHandle]):
    """Lazily made handles by name, closed together when the request or context ends.

    Subclasses say how an unknown name is reported (:meth:`missing`) and what to say after
    :meth:`close` (:meth:`closed_message`). A handle the user closed is replaced by a new one on
    the next access; after :meth:`close` a name gives its closed handle (using it raises
    :class:`HandleClosed`), or raises :class:`HandleClosed` if it had none.
    """

    def __init__(self, sources: Mapping[K, HandleSource]) -> None:
        self._sources = sources
        self._lock = threading.Lock()
        self._handles: dict[K, SessionHandle] = {}
        self._closed = False

    def missing(self, key: K) -> KeyError:
        """The error for a name that has no pool manager."""
        return KeyError(key)

    def closed_message(self, key: K) -> str:
        """The :class:`HandleClosed` text for a new name once this map is closed."""
        return "these Spanner handles were closed; use manager.handle()"

    def __getitem__(self, key: K) -> SessionHandle:
        with self._lock:
            handle = self._handles.get(key)
            if handle is not None and (self._closed or not handle.closed):
                return handle  # after close(): the (closed) handle, to inspect
            source = self._source(key)
            if self._closed:
                raise HandleClosed(self.closed_message(key))
            handle = source.handle()
            self._handles[key] = handle
            return handle

    def _source(self, key: K) -> HandleSource:
        try:
            return self._sources[key]
        except KeyError as exc:
            if type(exc) is not KeyError:
                raise  # the source's own error (PoolDoesNotExist) already names the key
            raise self.missing(key) from None
        except TypeError:  # an unhashable key
            raise self.missing(key) from None

    def __iter__(self) -> Iterator[K]:
        return iter(list(self._sources))

    def __len__(self) -> int:
        return len(self._sources)

    def __contains__(self, key: object) -> bool:
        try:
            return key in self._sources
        except TypeError:
            return False

    @property
    def handles(self) -> dict[K, SessionHandle]:
        """The handles made so far (a copy), by name."""
        with self._lock:
            return dict(self._handles)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._closed

    def close(self) -> None:
        """Return every checked-out session to its pool; idempotent, never raises."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            handles = list(self._handles.values())
        for handle in handles:
            try:
                handle.close()
            except Exception:  # noqa: BLE001 - return the other sessions anyway
                logger.exception("could not return the Spanner session of %r", handle)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<{type(self).__name__} {state} names={list(self._sources)!r} {self.handles!r}>"

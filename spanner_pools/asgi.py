"""ASGI lifespan: open this process's pools at server startup, delete their sessions at shutdown.

``app = spanner_pools.asgi.lifespan(app)`` wraps any ASGI 3 app. uvicorn (also as gunicorn's
``uvicorn_worker.UvicornWorker``) and hypercorn send lifespan events; uvicorn then dies by
re-raising SIGTERM, so neither ``atexit`` nor gunicorn's ``worker_exit`` runs and the lifespan
shutdown is the only hook left. An inner app with its own lifespan keeps it (pools are open
before its startup and closed after its shutdown); an app without one (Django's ``ASGIHandler``
raises for ``lifespan`` scopes) gets the lifespan answered here. Servers without lifespan
(daphne) are covered by ``atexit`` and the SIGTERM handler of :mod:`spanner_pools._sigterm`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from . import registry

__all__ = ["ASGIApp", "lifespan"]

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _open() -> str | None:
    """Open every pool (blocking: nothing is served before startup completes, and a plain
    call works under any event loop: asyncio, uvloop, trio). A bad setting is the error."""
    from . import reaper

    try:
        registry.open_all(wait=True)
    except Exception as exc:  # noqa: BLE001 - told to the server as startup.failed
        logger.error("spanner_pools: could not start: %s", exc)
        return f"spanner_pools: {exc}"
    # A worker restarted after a SIGKILL/OOM deletes what the dead one left on this host.
    reaper.reap_in_background(registry.managers())
    return None


def _close() -> None:
    """Delete this process's sessions (blocking: the server stops serving before shutdown)."""
    registry.close_all()


#: Messages of an inner app after which no request is served: its sessions go now.
_CLOSING = frozenset(
    {"lifespan.startup.failed", "lifespan.shutdown.complete", "lifespan.shutdown.failed"}
)


class _Lifespan:
    """The ASGI app returned by :func:`lifespan`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def __repr__(self) -> str:
        return f"<spanner_pools.asgi.lifespan({self.app!r})>"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "lifespan":
            await self.app(scope, receive, send)
            return
        await self._lifespan(scope, receive, send)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        startup_seen = False  # the inner app (or we) consumed lifespan.startup
        inner_spoke = False  # the inner app sent a lifespan message: it handles lifespan
        failed: str | None = None

        async def inner_receive() -> Message:
            nonlocal startup_seen, failed
            message = await receive()
            if message.get("type") == "lifespan.startup":
                startup_seen = True
                failed = _open()
            return message

        async def inner_send(message: Message) -> None:
            nonlocal inner_spoke
            inner_spoke = True
            kind = message.get("type")
            if kind == "lifespan.startup.complete" and failed is not None:
                _close()
                message = {"type": "lifespan.startup.failed", "message": failed}
            elif kind in _CLOSING:
                _close()
            await send(message)

        try:
            await self.app(scope, inner_receive, inner_send)
        except Exception:
            if inner_spoke:
                _close()
                raise
            logger.debug("the wrapped app does not support lifespan; spanner_pools answers it")
        else:
            if inner_spoke:
                return
        await self._answer(receive, send, startup_seen, failed)

    async def _answer(
        self, receive: Receive, send: Send, startup_seen: bool, failed: str | None
    ) -> None:
        """The lifespan of an app without one: open at startup, close at shutdown."""
        if not startup_seen:
            message = await receive()
            if message.get("type") != "lifespan.startup":
                return
            failed = _open()
        if failed is not None:
            _close()
            await send({"type": "lifespan.startup.failed", "message": failed})
            return
        await send({"type": "lifespan.startup.complete"})
        while True:
            message = await receive()
            if message.get("type") == "lifespan.shutdown":
                _close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def lifespan(app: ASGIApp) -> ASGIApp:
    """Wrap the ASGI ``app``: pools open at lifespan startup, sessions deleted at shutdown.

    Other scopes (``http``, ``websocket``) go to ``app`` unchanged.
    """
    if not callable(app):
        raise TypeError(
            f"spanner_pools.asgi.lifespan(app) expects an ASGI application, got {type(app).__name__}"
        )
    return _Lifespan(app)

"""``spanner_pools.asgi.lifespan`` driven in-process: pools open at startup, sessions are
deleted at shutdown, an inner app's own lifespan is kept, a bad setting fails the startup."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from spanner_pools import ConfigurationError, PoolManager, registry
from spanner_pools.asgi import lifespan


def run_lifespan(app: Any, events: list[str] | None = None) -> list[dict[str, Any]]:
    """Send startup then shutdown to ``app``; returns what it sent. ``events`` records the
    server's view (a message sent to the app, or one received from it) in order."""
    log = events if events is not None else []
    inbox: asyncio.Queue[dict[str, Any]] | None = None
    sent: list[dict[str, Any]] = []

    async def main() -> None:
        nonlocal inbox
        inbox = asyncio.Queue()
        await inbox.put({"type": "lifespan.startup"})

        async def receive() -> dict[str, Any]:
            assert inbox is not None
            message = await inbox.get()
            log.append("server->" + message["type"])
            return message

        async def send(message: dict[str, Any]) -> None:
            assert inbox is not None
            sent.append(dict(message))
            log.append("app->" + message["type"])
            if message["type"] == "lifespan.startup.complete":
                await inbox.put({"type": "lifespan.shutdown"})

        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
        await asyncio.wait_for(app(scope, receive, send), timeout=60)

    asyncio.run(main())
    return sent


def test_app_without_lifespan_gets_it_answered(
    make_manager: Callable[..., PoolManager], server_sessions: Callable[[], list[Any]]
) -> None:
    manager = make_manager(POOL_SIZE=2)
    seen: list[int] = []

    async def django_like(scope: Any, receive: Any, send: Any) -> None:
        seen.append(len(server_sessions()))
        raise ValueError("Django can only handle ASGI/HTTP connections, not lifespan.")

    sent = run_lifespan(lifespan(django_like))
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert seen == [0]  # nothing opened before the startup message
    assert manager.closed
    assert manager.stats()["sessions_created"] == 2
    assert server_sessions() == []


def test_inner_lifespan_runs_inside_the_pools(
    make_manager: Callable[..., PoolManager], server_sessions: Callable[[], list[Any]]
) -> None:
    manager = make_manager(POOL_SIZE=2)
    during: dict[str, int] = {}

    async def starlette_like(scope: Any, receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "lifespan.startup"
        during["startup"] = len(server_sessions())
        with manager.handle() as s:
            assert s.execute_sql("SELECT 1") == [[1]]
        await send({"type": "lifespan.startup.complete"})
        assert (await receive())["type"] == "lifespan.shutdown"
        during["shutdown"] = len(server_sessions())
        await send({"type": "lifespan.shutdown.complete"})

    events: list[str] = []
    sent = run_lifespan(lifespan(starlette_like), events)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert during == {"startup": 2, "shutdown": 2}  # open for the app's own startup/shutdown
    assert manager.closed
    assert server_sessions() == []


def test_bad_setting_fails_the_startup(make_manager: Callable[..., PoolManager]) -> None:
    manager = make_manager(POOL_SIZE=1)
    error = ConfigurationError("SPANNER['default']['POOL_SIZE']: expected an integer, got 'x'")
    registry.report_configuration_error("test-asgi", error)
    try:

        async def plain(scope: Any, receive: Any, send: Any) -> None:
            raise ValueError("no lifespan here")

        sent = run_lifespan(lifespan(plain))
    finally:
        registry.clear_configuration_error("test-asgi")
    assert [m["type"] for m in sent] == ["lifespan.startup.failed"]
    assert "POOL_SIZE" in sent[0]["message"]
    assert not manager.opened


def test_other_scopes_pass_through() -> None:
    calls: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        calls.append(scope["type"])

    wrapped = lifespan(app)
    asyncio.run(wrapped({"type": "http"}, None, None))  # type: ignore[arg-type]
    assert calls == ["http"]
    with pytest.raises(TypeError, match="ASGI application"):
        lifespan("app:app")  # type: ignore[arg-type]

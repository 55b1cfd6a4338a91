"""The middleware under Django's real ASGI handler (the test clients skip parts of it: the
per-request thread, ``response.close()`` through ``sync_to_async``, client disconnects)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import django
import pytest
from django.core.handlers.asgi import ASGIHandler
from django.test.utils import override_settings

from django_app import pools

from .base import SpannerTestCase
from .project import views


class AsgiClient:
    """Drives an ASGI app in-process for one GET; records what the app sends."""

    def __init__(self, app: ASGIHandler) -> None:
        self.app = app
        self.disconnect = asyncio.Event()
        self.messages: list[dict[str, Any]] = []
        self.in_use_while_streaming: list[int] = []

    async def get(self, path: str, headers: list[tuple[bytes, bytes]] | None = None) -> int | None:
        """The response status, or None if the app sent no response."""
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"testserver"), *(headers or [])],
            "client": ("127.0.0.1", 40000),
            "server": ("testserver", 80),
        }
        body_sent = False

        async def receive() -> dict[str, Any]:
            nonlocal body_sent
            if not body_sent:
                body_sent = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await self.disconnect.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            self.messages.append(message)
            if message["type"] == "http.response.body" and message.get("more_body"):
                self.in_use_while_streaming.append(pools["default"].stats()["in_use"])

        await self.app(scope, receive, send)
        starts = [m for m in self.messages if m["type"] == "http.response.start"]
        return int(starts[0]["status"]) if starts else None

    @property
    def body(self) -> bytes:
        return b"".join(
            m.get("body", b"") for m in self.messages if m["type"] == "http.response.body"
        )


class AsgiHandlerTests(SpannerTestCase):
    async def test_sync_and_async_views(self) -> None:
        client = AsgiClient(ASGIHandler())
        assert await client.get("/notes/") == 200
        assert await AsgiClient(ASGIHandler()).get("/async/") == 200
        self.assert_all_returned(checkouts=2)

    async def test_streaming_returns_after_the_last_chunk(self) -> None:
        client = AsgiClient(ASGIHandler())
        assert await client.get("/async-stream/") == 200
        assert client.body == b"0\n1\n2\n"
        assert client.in_use_while_streaming and set(client.in_use_while_streaming) == {1}
        self.assert_all_returned(checkouts=1)

    async def test_exhaustion_is_503(self) -> None:
        with override_settings(
            SPANNER={"default": {**self.spanner_config, "POOL_SIZE": 1, "POOL_TIMEOUT": 0.1}}
        ):
            held = pools["default"].handle()
            await asyncio.to_thread(held.execute_sql, "SELECT 1")
            try:
                client = AsgiClient(ASGIHandler())
                assert await client.get("/async/") == 503
            finally:
                held.close()
            self.assert_all_returned()

    @override_settings(
        MIDDLEWARE=[
            "django.middleware.http.ConditionalGetMiddleware",
            "django_app.middleware.SpannerSessionMiddleware",
        ]
    )
    async def test_replaced_response(self) -> None:
        client = AsgiClient(ASGIHandler())
        assert await client.get("/etag/", [(b"if-none-match", b'"fixed"')]) == 304
        self.assert_all_returned(checkouts=1)

    @pytest.mark.skipif(
        django.VERSION < (5, 0),
        reason="Django 4.2's ASGI handler does not cancel a request when its client leaves",
    )
    async def test_client_disconnect_while_the_view_runs(self) -> None:
        client = AsgiClient(ASGIHandler())
        request = asyncio.ensure_future(client.get("/async-slow/"))
        await wait_until(lambda: pools["default"].stats()["in_use"] == 1 or request.done())
        assert pools["default"].stats()["in_use"] == 1
        client.disconnect.set()  # the handler cancels the view
        assert await request is None  # no response was sent at all
        self.assert_all_returned(checkouts=1)

    @pytest.mark.skipif(
        django.VERSION < (5, 0),
        reason="Django 4.2's ASGI handler does not cancel a request when its client leaves",
    )
    async def test_client_disconnect_while_a_sync_view_runs(self) -> None:
        # The sync view keeps running in the request's thread after the handler cancels the
        # request: the session goes back only after it finished with it.
        views.SYNC_SLOW_RELEASE.clear()
        views.SYNC_SLOW_RESULTS.clear()
        client = AsgiClient(ASGIHandler())
        request = asyncio.ensure_future(client.get("/sync-slow/"))
        try:
            await wait_until(lambda: pools["default"].stats()["in_use"] == 1 or request.done())
            assert pools["default"].stats()["in_use"] == 1
            client.disconnect.set()
            for _ in range(20):
                await asyncio.sleep(0.01)  # let the handler cancel and the middleware react
            assert pools["default"].stats()["in_use"] == 1  # not returned under the view
        finally:
            views.SYNC_SLOW_RELEASE.set()
        assert await request is None
        assert views.SYNC_SLOW_RESULTS == [[[2]]]
        self.assert_all_returned(checkouts=1)


async def wait_until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` a bounded number of times."""
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.005)

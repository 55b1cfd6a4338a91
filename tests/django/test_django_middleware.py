"""The middleware against the real emulator: lazy checkout, return on every path, 503."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, Client
from django.test.utils import override_settings

import django_app
import django_app.sessions
from django_app import PoolDoesNotExist, managers, pools
from django_app.middleware import SpannerSessionMiddleware
from spanner_pools import HandleClosed, SessionHandle
from spanner_pools.emulator import free_port

from .base import SpannerTestCase


class SyncMiddlewareTests(SpannerTestCase):
    def test_view_not_touching_spanner_checks_out_nothing(self) -> None:
        offset = self.emulator.log_offset()
        response = self.client.get("/plain/")
        assert response.status_code == 200
        assert response.wsgi_request.spanner_sessions.handles == {}
        stats = self.stats()
        assert not stats["opened"]
        assert stats["checkouts"] == 0
        assert self.emulator.requests(offset) == {}

    def test_returned_after_a_normal_response(self) -> None:
        response = self.client.get("/notes/")
        assert response.status_code == 200
        assert isinstance(response.json()["notes"], list)
        handle = response.wsgi_request.spanner_sessions["default"]
        assert isinstance(handle, SessionHandle)
        assert handle.closed
        self.assert_all_returned(checkouts=1)
        # Closing again (as a second closer or signal would) returns nothing twice.
        response.wsgi_request.spanner_sessions.close()
        response.close()
        self.assert_all_returned(checkouts=1)

    def test_read_write(self) -> None:
        created = self.client.post(
            "/notes/", {"id": "rw", "body": "hello"}, content_type="application/json"
        )
        assert created.status_code == 201
        assert created.json()["inserted"] == 1
        assert ["rw", "hello"] in self.client.get("/notes/").json()["notes"]
        self.assert_all_returned(checkouts=2)

    def test_returned_when_the_view_raises(self) -> None:
        client = Client(raise_request_exception=False)
        response = client.get("/boom/")
        assert response.status_code == 500
        assert response.wsgi_request.spanner.closed
        self.assert_all_returned(checkouts=1)

    def test_streaming_holds_the_session_until_the_stream_is_closed(self) -> None:
        response = self.client.get("/stream/", {"n": "3"})
        assert response.streaming
        assert self.stats()["checkouts"] == 0  # the generator has not run yet
        chunks = iter(response.streaming_content)
        assert next(chunks) == b"0\n"
        assert self.stats()["in_use"] == 1
        assert next(chunks) == b"1\n"
        assert self.stats()["in_use"] == 1
        assert list(chunks) == [b"2\n"]  # exhausted: the test client closes the response
        self.assert_all_returned(checkouts=1)

    def test_streaming_closed_early_returns_the_session(self) -> None:
        response = self.client.get("/stream/", {"n": "5"})
        chunks = iter(response.streaming_content)
        assert next(chunks) == b"0\n"
        assert self.stats()["in_use"] == 1
        response.close()
        self.assert_all_returned(checkouts=1)
        response.close()
        self.assert_all_returned(checkouts=1)

    def test_using_a_request_handle_after_the_response_finished_fails_clearly(self) -> None:
        used = self.client.get("/notes/").wsgi_request
        with pytest.raises(HandleClosed):
            used.spanner.execute_sql("SELECT 1")
        unused = self.client.get("/plain/").wsgi_request
        with pytest.raises(HandleClosed, match=r"use django_app.managers\['default'\]\.handle\(\)"):
            unused.spanner.execute_sql("SELECT 1")
        self.assert_all_returned(checkouts=1)

    @override_settings(
        MIDDLEWARE=[
            "django.middleware.http.ConditionalGetMiddleware",
            "django_app.middleware.SpannerSessionMiddleware",
        ]
    )
    def test_replaced_response_still_returns_the_session(self) -> None:
        # ConditionalGetMiddleware answers 304 with a new response and never closes ours;
        # the handler's request.close() on the final response returns the session.
        response = self.client.get("/etag/", headers={"if-none-match": '"fixed"'})
        assert response.status_code == 304
        self.assert_all_returned(checkouts=1)

    def test_nested_use_outside_requests(self) -> None:
        with pools["default"].handle() as handle:
            assert handle.execute_sql("SELECT 7") == [[7]]
        self.assert_all_returned(checkouts=1)

    def test_handle_names_and_their_older_aliases(self) -> None:
        # managers / request.spanner_handles / RequestHandles are the names; pools,
        # request.spanner_sessions, RequestSessions and django_app.sessions the older ones.
        request = self.client.get("/notes/").wsgi_request
        assert request.spanner_handles is request.spanner_sessions
        assert isinstance(request.spanner_handles, django_app.RequestHandles)
        assert request.spanner_handles.handles["default"].closed
        assert django_app.pools is django_app.managers
        assert django_app.Pools is django_app.Managers
        assert django_app.RequestSessions is django_app.RequestHandles
        assert django_app.sessions.pools is django_app.managers
        assert django_app.sessions.RequestSessions is django_app.RequestHandles
        with managers["default"].handle() as handle, pools["default"].session() as older:
            assert handle.execute_sql("SELECT 8") == older.execute_sql("SELECT 8") == [[8]]
        self.assert_all_returned(checkouts=3)


class TwoAliasesTests(SpannerTestCase):
    extra_aliases = {"analytics": {"POOL": "bursty"}}

    def test_both_aliases_in_one_request(self) -> None:
        response = self.client.get("/two/")
        assert response.status_code == 200
        assert response.json() == {
            "default": [[1]],
            "analytics": [[2]],
            "aliases": ["analytics", "default"],
        }
        self.assert_all_returned("default", checkouts=1)
        self.assert_all_returned("analytics", checkouts=1)
        assert pools["default"] is not pools["analytics"]
        assert pools["analytics"].settings.pool == "bursty"

    def test_unknown_alias_names_the_configured_ones(self) -> None:
        response = self.client.get("/plain/")
        sessions = response.wsgi_request.spanner_sessions
        assert "nope" not in sessions
        with pytest.raises(PoolDoesNotExist) as info:
            sessions["nope"]
        assert str(info.value) == (
            "Spanner alias 'nope' is not configured in settings.SPANNER "
            "(configured aliases: 'default', 'analytics')"
        )
        assert isinstance(info.value, KeyError)


class ExhaustionTests(SpannerTestCase):
    default_overrides = {"POOL_SIZE": 1, "POOL_TIMEOUT": 0.2}

    def test_exhausted_pool_answers_503_with_retry_after(self) -> None:
        with pools["default"].handle() as held:
            held.execute_sql("SELECT 1")  # the only session is now lent out
            response = self.client.get("/notes/")
            assert response.status_code == 503
            assert response["Retry-After"] == "1"
            assert b"PoolExhausted" in response.content
        assert self.client.get("/notes/").status_code == 200
        self.assert_all_returned()
        assert self.stats()["timeouts"] == 1

    async def test_exhausted_pool_answers_503_in_async_views(self) -> None:
        held = pools["default"].handle()
        try:
            await asyncio.to_thread(held.execute_sql, "SELECT 1")
            response = await self.async_client.get("/async/")
            assert response.status_code == 503
            assert response["Retry-After"] == "1"
        finally:
            held.close()
        assert (await self.async_client.get("/async/")).status_code == 200


class UnreachableTests(SpannerTestCase):
    default_overrides = {"EMULATOR_HOST": f"127.0.0.1:{free_port()}", "RPC_TIMEOUT": 1}

    def test_unreachable_spanner_answers_503(self) -> None:
        response = self.client.get("/notes/")
        assert response.status_code == 503
        assert response["Retry-After"] == "1"
        assert b"PoolUnavailable" in response.content


class AsyncMiddlewareTests(SpannerTestCase):
    def test_middleware_is_a_coroutine_function_in_async_stacks(self) -> None:
        async def view(request: HttpRequest) -> HttpResponse:
            return HttpResponse()

        def sync_view(request: HttpRequest) -> HttpResponse:
            return HttpResponse()

        assert iscoroutinefunction(SpannerSessionMiddleware(view))
        assert not iscoroutinefunction(SpannerSessionMiddleware(sync_view))

    async def test_async_view(self) -> None:
        response = await self.async_client.get("/async/")
        assert response.status_code == 200
        assert response.json() == {"rows": [[1]]}
        assert response.asgi_request.spanner.closed
        self.assert_all_returned(checkouts=1)

    async def test_sync_view_in_async_stack(self) -> None:
        response = await self.async_client.get("/notes/")
        assert response.status_code == 200
        self.assert_all_returned(checkouts=1)

    async def test_async_view_not_touching_spanner(self) -> None:
        response = await self.async_client.get("/plain/")
        assert response.status_code == 200
        assert not self.stats()["opened"]

    async def test_async_view_raising(self) -> None:
        client = AsyncClient(raise_request_exception=False)
        response = await client.get("/async-boom/")
        assert response.status_code == 500
        self.assert_all_returned(checkouts=1)

    async def test_async_streaming(self) -> None:
        response = await self.async_client.get("/async-stream/", {"n": "3"})
        chunks = aiter(response.streaming_content)
        assert await anext(chunks) == b"0\n"
        assert self.stats()["in_use"] == 1
        rest = [chunk async for chunk in chunks]
        assert rest == [b"1\n", b"2\n"]
        self.assert_all_returned(checkouts=1)

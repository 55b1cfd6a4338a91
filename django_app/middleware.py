"""``SpannerSessionMiddleware``: request-scoped session handles and 503 for pool errors.

``request.spanner`` (alias ``"default"``) and ``request.spanner_handles[alias]`` (also
``request.spanner_sessions``, its older name) are handles made lazily; a session is checked
out only when a handle is first used, and returned when the response is closed (for a
streaming response: after the stream ends), also when the view raised. Works in sync (WSGI) and async (ASGI) middleware stacks.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.functional import SimpleLazyObject

from spanner_pools import PoolError

from .conf import DEFAULT_ALIAS
from .handles import RequestHandles

__all__ = ["SpannerSessionMiddleware"]

logger = logging.getLogger(__name__)


class SpannerSessionMiddleware:
    """Lends each request a lazy session handle per alias and answers ``PoolError`` with 503.

    Place it early in ``MIDDLEWARE`` so that other middleware can use ``request.spanner``.
    """

    sync_capable = True
    async_capable = True

    def __init__(
        self,
        get_response: Callable[[HttpRequest], HttpResponseBase]
        | Callable[[HttpRequest], Awaitable[HttpResponseBase]],
    ) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            # Django then calls this instance as a coroutine function (see __acall__).
            markcoroutinefunction(self)

    def __repr__(self) -> str:
        return f"<{type(self).__qualname__} get_response={self.get_response!r}>"

    @staticmethod
    def _attach(request: HttpRequest) -> RequestHandles:
        handles = RequestHandles()
        request.spanner_handles = handles
        request.spanner_sessions = handles  # the older name of the same object
        request.spanner = SimpleLazyObject(lambda: handles[DEFAULT_ALIAS])
        # Django's handler closes the request when it closes the *final* response, even when
        # an outer middleware replaced ours without closing it (ConditionalGetMiddleware's
        # 304 does): chaining the return there covers that case, under WSGI and ASGI.
        close_request = request.close

        def close() -> None:
            try:
                close_request()
            finally:
                handles.close()

        request.close = close
        return handles

    @staticmethod
    def _finish(handles: RequestHandles, response: HttpResponseBase) -> HttpResponseBase:
        """Return the sessions when the response is closed (after streaming, if it streams)."""
        closers = getattr(response, "_resource_closers", None)
        if isinstance(closers, list):
            closers.append(handles.close)
        else:  # not a Django response object: nothing will tell us when it is done
            handles.close()
        return response

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        handles = self._attach(request)
        try:
            response = self.get_response(request)
        except BaseException:
            handles.close()
            raise
        return self._finish(handles, response)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        handles = self._attach(request)
        try:
            response = await self.get_response(request)
        except BaseException:
            # On a client disconnect the view may still be running Spanner calls in the
            # request's thread (sync_to_async, thread-sensitive): closing there queues the
            # return behind them. Shielded, so a second cancellation cannot skip it.
            await asyncio.shield(sync_to_async(handles.close, thread_sensitive=True)())
            raise
        return self._finish(handles, response)

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponseBase | None:
        """A ``PoolError`` (exhausted or unreachable) becomes 503 with ``Retry-After``."""
        if not isinstance(exception, PoolError):
            return None
        logger.warning(
            "Spanner pool error on %s %s, answering 503 (pid %d): %s",
            request.method,
            request.path,
            os.getpid(),
            exception,
            extra={"pid": os.getpid()},
        )
        return HttpResponse(
            f"Service Unavailable: {type(exception).__name__}. Retry later.\n",
            status=503,
            content_type="text/plain; charset=utf-8",
            headers={"Retry-After": str(exception.retry_after)},
        )

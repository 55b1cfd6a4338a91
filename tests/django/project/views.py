"""Views of the test project: each one exercises one part of the middleware."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

from asgiref.sync import sync_to_async
from django.http import (
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from google.cloud.spanner_v1 import param_types

from django_app import pools


def plain(request: HttpRequest) -> HttpResponse:
    """Never touches Spanner: must check nothing out."""
    return HttpResponse("plain")


def notes(request: HttpRequest) -> HttpResponse:
    """GET lists notes (read), POST inserts one (read-write transaction)."""
    if request.method == "POST":
        payload = json.loads(request.body)
        count = request.spanner.execute_update(
            "INSERT INTO notes (id, body) VALUES (@id, @body)",
            params={"id": payload["id"], "body": payload["body"]},
            param_types={"id": param_types.STRING, "body": param_types.STRING},
        )
        return JsonResponse({"inserted": count, "pid": os.getpid()}, status=201)
    rows = request.spanner.execute_sql("SELECT id, body FROM notes ORDER BY id LIMIT 50")
    return JsonResponse({"notes": rows, "pid": os.getpid()})


def boom(request: HttpRequest) -> HttpResponse:
    """Uses the session, then fails."""
    request.spanner.execute_sql("SELECT 1")
    raise ValueError("boom")


def stream(request: HttpRequest) -> StreamingHttpResponse:
    """Streams ``n`` chunks, querying Spanner while the stream is consumed."""
    n = int(request.GET.get("n", "3"))

    def chunks() -> Iterator[bytes]:
        for i in range(n):
            value = request.spanner.execute_sql(
                "SELECT @i", params={"i": i}, param_types={"i": param_types.INT64}
            )
            yield f"{value[0][0]}\n".encode()

    return StreamingHttpResponse(chunks(), content_type="text/plain")


def two_aliases(request: HttpRequest) -> HttpResponse:
    """Uses ``default`` and ``analytics`` in one request."""
    first = request.spanner.execute_sql("SELECT 1")
    second = request.spanner_sessions["analytics"].execute_sql("SELECT 2")
    return JsonResponse(
        {"default": first, "analytics": second, "aliases": sorted(request.spanner_sessions)}
    )


def etag(request: HttpRequest) -> HttpResponse:
    """Uses Spanner and sets an ETag, so ConditionalGetMiddleware can answer 304."""
    rows = request.spanner.execute_sql("SELECT 1")
    response = HttpResponse(json.dumps(rows))
    response["ETag"] = '"fixed"'
    return response


def pid(request: HttpRequest) -> HttpResponse:
    """Readiness probe of the e2e test: a live query plus this worker's pid and stats."""
    request.spanner.execute_sql("SELECT 1")
    return JsonResponse({"pid": os.getpid(), "stats": pools["default"].stats()})


async def async_notes(request: HttpRequest) -> HttpResponse:
    """An async view: Spanner calls are blocking, so they run through sync_to_async."""
    rows = await sync_to_async(request.spanner.execute_sql)("SELECT 1")
    return JsonResponse({"rows": rows})


async def async_boom(request: HttpRequest) -> HttpResponse:
    await sync_to_async(request.spanner.execute_sql)("SELECT 1")
    raise ValueError("async boom")


async def async_stream(request: HttpRequest) -> StreamingHttpResponse:
    """An async streaming response that queries Spanner while it is consumed."""
    n = int(request.GET.get("n", "3"))

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(n):
            value: Any = await sync_to_async(request.spanner.execute_sql)(
                "SELECT @i", params={"i": i}, param_types={"i": param_types.INT64}
            )
            yield f"{value[0][0]}\n".encode()

    return StreamingHttpResponse(chunks(), content_type="text/plain")


async def async_slow(request: HttpRequest) -> HttpResponse:
    """Queries, then waits long enough for the client to disconnect (the test cancels it)."""
    await sync_to_async(request.spanner.execute_sql)("SELECT 1")
    await asyncio.sleep(60)
    return HttpResponse("too late")


#: Lets a test hold ``sync_slow`` inside the view, and see what it read after release.
SYNC_SLOW_RELEASE = threading.Event()
SYNC_SLOW_RESULTS: list[Any] = []


def sync_slow(request: HttpRequest) -> HttpResponse:
    """Queries, waits for the test, queries again on the same session (a disconnect must not
    return the session while this thread still uses it)."""
    request.spanner.execute_sql("SELECT 1")
    SYNC_SLOW_RELEASE.wait(30)
    SYNC_SLOW_RESULTS.append(request.spanner.execute_sql("SELECT 2"))
    return HttpResponse("done")

"""Views of the Django notes site: parse the request, call ``example_site.notes``, render JSON.

``request.spanner`` is the request's pooled session (``django_app`` middleware); a
``PoolError`` becomes a 503 there.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse

from django_app import managers
from example_site import notes, page

View = Callable[[HttpRequest], HttpResponse]


def endpoint(*methods: str) -> Callable[[View], View]:
    """Allow only ``methods`` (405 otherwise) and answer :class:`notes.BadRequest` with 400."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest) -> HttpResponse:
            if request.method not in methods:
                response = JsonResponse({"error": f"method {request.method} not allowed"})
                response.status_code = 405
                response["Allow"] = ", ".join(methods)
                return response
            try:
                return view(request)
            except notes.BadRequest as exc:
                return JsonResponse({"error": str(exc)}, status=400)

        return wrapper

    return decorate


def _payload(request: HttpRequest) -> Any:
    try:
        return json.loads(request.body or b"null")
    except ValueError:
        raise notes.BadRequest("the request body is not valid JSON") from None


def _index_page(request: HttpRequest, error: str | None = None, status: int = 200) -> HttpResponse:
    listed = notes.list_notes(request.spanner)
    html = page.render_index(
        listed["notes"], managers["default"].stats(), site="Django", error=error
    )
    return HttpResponse(html, status=status, content_type="text/html; charset=utf-8")


@endpoint("GET", "POST")
def index(request: HttpRequest) -> HttpResponse:
    """The page for people (GET) and its form (POST: add the note, redirect back)."""
    if request.method == "POST":
        try:
            notes.create_note(request.spanner, page.form_payload(request.POST.get("body")))
        except notes.BadRequest as exc:
            return _index_page(request, error=str(exc), status=400)
        return HttpResponseRedirect("/", status=303)
    return _index_page(request)


@endpoint("GET")
def health(request: HttpRequest) -> HttpResponse:
    return JsonResponse({**notes.health(request.spanner), "pid": os.getpid()})


@endpoint("GET", "POST")
def notes_view(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return JsonResponse(notes.create_note(request.spanner, _payload(request)), status=201)
    limit = notes.parse_limit(request.GET.get("limit"))
    return JsonResponse(notes.list_notes(request.spanner, limit))


@endpoint("POST")
def bulk_add(request: HttpRequest) -> HttpResponse:
    return JsonResponse(notes.bulk_add(request.spanner, _payload(request)), status=201)


@endpoint("GET")
def stats(request: HttpRequest) -> HttpResponse:
    return JsonResponse(managers["default"].stats())

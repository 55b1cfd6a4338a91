"""Routes of the test project."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("plain/", views.plain),
    path("notes/", views.notes),
    path("boom/", views.boom),
    path("stream/", views.stream),
    path("two/", views.two_aliases),
    path("etag/", views.etag),
    path("pid/", views.pid),
    path("async/", views.async_notes),
    path("async-boom/", views.async_boom),
    path("async-stream/", views.async_stream),
    path("async-slow/", views.async_slow),
    path("sync-slow/", views.sync_slow),
]

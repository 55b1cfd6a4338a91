"""Routes of the Django notes site (the same paths as the Flask site)."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("", views.index),
    path("health", views.health),
    path("notes", views.notes_view),
    path("notes/bulk", views.bulk_add),
    path("stats", views.stats),
]

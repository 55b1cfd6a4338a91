from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("notes/", views.notes),
    path("stats/", views.stats),
    path("health/", views.health),
]

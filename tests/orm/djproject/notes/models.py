"""A model with an auto primary key: django-google-spanner generates it (random int64)."""

from __future__ import annotations

from django.db import models


class Note(models.Model):
    body = models.CharField(max_length=200)

    class Meta:
        app_label = "notes"

"""Views of the ORM test project: ORM writes and reads, and the worker's pool stats."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from django_app import pools

from .notes.models import Note


@csrf_exempt
def notes(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        body = json.loads(request.body or b"{}").get("body", "")
        note = Note.objects.create(body=body)
        return JsonResponse({"id": note.pk}, status=201)
    return JsonResponse({"count": Note.objects.count()})


def stats(request: HttpRequest) -> HttpResponse:
    data: dict[str, Any] = pools[settings.SPANNER_ALIAS].stats()
    return JsonResponse(data)


def health(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")

"""``gunicorn -c python:spanner_pools.gunicorn tests.orm.djproject.wsgi:application``.

The ORM is used at import (``--preload`` then runs it in the master): each worker inherits
that thread's Django connection and must not use the master's transaction or session.
"""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.orm.djproject.settings")

application = get_wsgi_application()

if os.environ.get("ORM_QUERY_AT_IMPORT"):
    from .notes.models import Note

    Note.objects.count()

"""ASGI entry point of the Django notes site (uvicorn, hypercorn, daphne, gunicorn's
``UvicornWorker``): Django's handler with the Spanner pools' lifespan."""

from __future__ import annotations

import os

from django_app.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_site.django_site.settings")

application = get_asgi_application()

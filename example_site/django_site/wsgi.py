"""WSGI entry point of the Django notes site."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_site.django_site.settings")

application = get_wsgi_application()

"""Django's ASGI application with the Spanner pools' lifespan: ``asgi.py`` of a project.

``application = django_app.asgi.get_asgi_application()`` instead of Django's own: pools open
at lifespan startup (before the first request) and their sessions are deleted at shutdown
under uvicorn, gunicorn's ``UvicornWorker`` and hypercorn, where ``atexit`` does not run.
"""

from __future__ import annotations

from typing import Any

__all__ = ["get_asgi_application"]


def get_asgi_application() -> Any:
    """``django.core.asgi.get_asgi_application()`` wrapped in :func:`spanner_pools.asgi.lifespan`."""
    from django.core.asgi import get_asgi_application as django_asgi_application

    from spanner_pools.asgi import lifespan

    return lifespan(django_asgi_application())

"""Django adapter of spanner-pools.

``INSTALLED_APPS += ["django_app"]``, ``MIDDLEWARE += ["django_app.middleware.SpannerSessionMiddleware"]``
and a ``SPANNER = {"default": {...}}`` setting give every request ``request.spanner``; outside a
request, ``from django_app import pools; with pools["default"].session() as s: ...``.
"""

from __future__ import annotations

from .sessions import PoolDoesNotExist, Pools, RequestSessions, pools

__all__ = ["PoolDoesNotExist", "Pools", "RequestSessions", "pools"]

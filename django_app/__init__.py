"""Django adapter of spanner-pools.

``INSTALLED_APPS += ["django_app"]``, ``MIDDLEWARE += ["django_app.middleware.SpannerSessionMiddleware"]``
and a ``SPANNER = {"default": {...}}`` setting give every request ``request.spanner`` (a
handle); outside a request, ``from django_app import managers;
with managers["default"].handle() as handle: ...``. ``pools``, ``Pools`` and
``RequestSessions`` are the older names of ``managers``, ``Managers`` and ``RequestHandles``.
"""

from __future__ import annotations

from .handles import RequestHandles, RequestSessions
from .managers import Managers, PoolDoesNotExist, Pools, managers, pools

__all__ = [
    "Managers",
    "PoolDoesNotExist",
    "Pools",
    "RequestHandles",
    "RequestSessions",
    "managers",
    "pools",
]

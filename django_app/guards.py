"""Make a missing ``SpannerSessionMiddleware`` visible where it happens, not only in ``check``.

* ``request.spanner`` / ``request.spanner_handles`` without the middleware raise
  :class:`MiddlewareMissing` (an ``ImproperlyConfigured`` that names the fix) instead of a raw
  ``AttributeError``: ``AppConfig.ready()`` puts a non-data descriptor on ``HttpRequest``,
  which the middleware's per-request instance attributes shadow.
* The first request of a process logs ``spanner_pools.W001`` once when the middleware is not
  in ``MIDDLEWARE`` (gunicorn and uWSGI never run ``manage.py check``), unless it is in
  ``SILENCED_SYSTEM_CHECKS``.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import request_started
from django.http import HttpRequest

from .conf import DEFAULT_ALIAS, MIDDLEWARE_PATH

__all__ = ["REQUEST_ATTRIBUTES", "MiddlewareMissing", "arm_first_request_check", "install"]

logger = logging.getLogger(__name__)

#: The attributes the middleware sets on every request.
REQUEST_ATTRIBUTES = ("spanner", "spanner_handles", "spanner_sessions")
_DISPATCH_UID = "spanner_pools.first_request_check"


class MiddlewareMissing(ImproperlyConfigured, AttributeError):
    """``request.spanner`` used without the middleware; also an ``AttributeError``, so
    ``hasattr(request, "spanner")`` and ``getattr(request, "spanner", None)`` still work."""


class _SetByMiddleware:
    """Class-level stand-in for an attribute the middleware sets on each request."""

    def __init__(self, attribute: str) -> None:
        self.attribute = attribute

    def __get__(self, request: HttpRequest | None, owner: type[Any] | None = None) -> Any:
        if request is None:
            return self
        raise MiddlewareMissing(
            f"request.{self.attribute} is not set: add {MIDDLEWARE_PATH!r} to MIDDLEWARE "
            "(it lends each request its Spanner sessions and answers pool errors with 503). "
            f"Outside a request, use django_app.managers[{DEFAULT_ALIAS!r}].handle()."
        )


def install() -> None:
    """Put the stand-ins on ``HttpRequest`` (idempotent) and arm the first-request check."""
    for attribute in REQUEST_ATTRIBUTES:
        if attribute not in HttpRequest.__dict__:
            setattr(HttpRequest, attribute, _SetByMiddleware(attribute))
    arm_first_request_check()


_lock = threading.Lock()


def arm_first_request_check() -> None:
    """Check ``MIDDLEWARE`` at the next request of this process (then never again)."""
    request_started.connect(_first_request, dispatch_uid=_DISPATCH_UID)


def _first_request(**kwargs: Any) -> None:
    with _lock:
        if not request_started.disconnect(dispatch_uid=_DISPATCH_UID):
            return  # another thread's first request ran the check
    from .checks import check_middleware

    silenced = set(getattr(settings, "SILENCED_SYSTEM_CHECKS", ()) or ())
    for warning in check_middleware():
        if warning.id not in silenced:
            logger.warning("%s %s (%s)", warning.msg, warning.hint, warning.id)

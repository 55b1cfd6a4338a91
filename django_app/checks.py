"""System checks (``manage.py check``) of the ``SPANNER`` setting and the middleware.

IDs are stable; never reuse one for a different problem. No check touches the network.

* ``spanner_pools.E001`` the ``SPANNER`` setting is missing
* ``spanner_pools.E002`` ``SPANNER`` is not a dict of aliases to dicts of settings
* ``spanner_pools.E003`` ``SPANNER`` has no ``'default'`` alias
* ``spanner_pools.E004`` an alias name is not a non-empty string of ``[A-Za-z0-9_.-]``
* ``spanner_pools.E005`` an alias's value is not a dict of settings
* ``spanner_pools.E006`` an unknown key in an alias (with a "did you mean")
* ``spanner_pools.E007`` a required key is missing (``INSTANCE``, ``DATABASE``; ``PROJECT``
  with the emulator)
* ``spanner_pools.E008`` a key has a bad value (type, range or format)
* ``spanner_pools.W001`` ``SpannerSessionMiddleware`` is not in ``MIDDLEWARE``
* ``spanner_pools.W002`` (``--deploy`` only) an alias uses the Spanner emulator
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core import checks
from django.utils.module_loading import import_string

from .conf import MIDDLEWARE_PATH, conf, validate

__all__ = ["TAG", "check_deploy", "check_middleware", "check_settings"]

#: ``manage.py check --tag spanner_pools`` runs only these checks.
TAG = "spanner_pools"


def _id(code: str) -> str:
    return f"spanner_pools.{code}"


def check_settings(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[Any]:
    """Every problem of ``settings.SPANNER`` as an ``Error`` (E001-E008)."""
    _, problems = validate(conf.SPANNER)
    return [checks.Error(p.msg, hint=p.hint, id=_id(p.code)) for p in problems]


def _is_our_middleware(path: str) -> bool:
    if path == MIDDLEWARE_PATH:
        return True
    try:
        candidate = import_string(path)
    except ImportError:
        return False  # Django reports broken MIDDLEWARE entries itself
    from .middleware import SpannerSessionMiddleware

    return isinstance(candidate, type) and issubclass(candidate, SpannerSessionMiddleware)


def check_middleware(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[Any]:
    """W001: without the middleware there is no ``request.spanner`` and no 503 on pool errors."""
    if any(_is_our_middleware(path) for path in conf.MIDDLEWARE):
        return []
    return [
        checks.Warning(
            f"{MIDDLEWARE_PATH!r} is not in MIDDLEWARE: requests get no request.spanner and "
            "pool errors are not answered with 503.",
            hint=f"Add {MIDDLEWARE_PATH!r} to MIDDLEWARE, or add 'spanner_pools.W001' to "
            "SILENCED_SYSTEM_CHECKS if only commands and tasks use the pools.",
            id=_id("W001"),
        )
    ]


def check_deploy(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[Any]:
    """W002 (``check --deploy``): an alias talks to the emulator, not to Cloud Spanner."""
    parsed, _ = validate(conf.SPANNER)
    return [
        checks.Warning(
            f"SPANNER[{alias!r}] uses the Spanner emulator at {settings.emulator_host!r} "
            "(EMULATOR_HOST or the SPANNER_EMULATOR_HOST environment variable).",
            hint="Unset EMULATOR_HOST and SPANNER_EMULATOR_HOST in production.",
            id=_id("W002"),
        )
        for alias, settings in parsed.items()
        if settings.emulator_host is not None
    ]


# Registered without decorators (Django is untyped; a decorator would untype the functions).
checks.register(check_settings, TAG)
checks.register(check_middleware, TAG)
checks.register(check_deploy, TAG, deploy=True)

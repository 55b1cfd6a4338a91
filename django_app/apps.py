"""The ``spanner_pools`` app: registers the system checks and builds the pool managers."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core.signals import setting_changed


def _spanner_setting_changed(*, setting: str, **kwargs: Any) -> None:
    """``override_settings(SPANNER=...)``: close the old pools, build new ones on next use."""
    if setting == "SPANNER":
        from .managers import managers

        managers.reset()


class SpannerPoolsConfig(AppConfig):
    """``INSTALLED_APPS = [..., "django_app"]``; label ``spanner_pools`` (check IDs use it)."""

    name = "django_app"
    label = "spanner_pools"
    verbose_name = "Spanner session pools"
    default = True

    def __init__(self, app_name: str, app_module: Any) -> None:
        super().__init__(app_name, app_module)
        from .db import prepare_models  # before any model loads (ENGINE "django_app.db")

        prepare_models()

    def ready(self) -> None:
        """Build one PoolManager per alias: no network (pools open on first use or through
        the worker hooks), and an invalid ``SPANNER`` is left for the checks to report.
        A missing middleware is reported at the first request (see :mod:`django_app.guards`)."""
        from . import checks  # noqa: F401 - registers the system checks
        from .guards import install
        from .managers import managers

        install()  # request.spanner without the middleware: a clear error, W001 logged

        setting_changed.connect(
            _spanner_setting_changed, dispatch_uid="spanner_pools.setting_changed"
        )
        managers.configure()

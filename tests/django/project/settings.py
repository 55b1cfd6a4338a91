"""Settings of the test project: no SQL database, Spanner settings from ``DJANGO_SPANNER_*``.

In-process tests replace ``SPANNER`` with ``override_settings``; the gunicorn end-to-end
test passes the emulator and database through the environment.
"""

from __future__ import annotations

import os
from typing import Any

SECRET_KEY = "django-app-tests-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
INSTALLED_APPS = ["django_app"]
MIDDLEWARE = ["django_app.middleware.SpannerSessionMiddleware"]
ROOT_URLCONF = "tests.django.project.urls"
WSGI_APPLICATION = "tests.django.project.wsgi.application"
DATABASES: dict[str, Any] = {}
USE_TZ = True


def _spanner_from_env() -> dict[str, Any]:
    values: dict[str, Any] = {
        "PROJECT": os.environ.get("DJANGO_SPANNER_PROJECT", "test-project"),
        "INSTANCE": os.environ.get("DJANGO_SPANNER_INSTANCE", "test-instance"),
        "DATABASE": os.environ.get("DJANGO_SPANNER_DATABASE", "base"),
        "POOL_SIZE": int(os.environ.get("DJANGO_SPANNER_POOL_SIZE", "4")),
    }
    if os.environ.get("DJANGO_SPANNER_EMULATOR_HOST"):
        values["EMULATOR_HOST"] = os.environ["DJANGO_SPANNER_EMULATOR_HOST"]
    return values


SPANNER = {"default": _spanner_from_env()}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"spanner_pools": {"handlers": ["console"], "level": "INFO"}},
}

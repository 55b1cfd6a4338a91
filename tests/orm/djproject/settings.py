"""A Django project on ``"ENGINE": "django_app.db"``; Spanner settings from ``ORM_SPANNER_*``.

``ORM_CONN_MAX_AGE`` is ``0`` (default), a number of seconds, or ``none``; with
``ORM_SPANNER_ALIAS`` the ``SPANNER`` alias has that name and ``OPTIONS["SPANNER_ALIAS"]`` says so.
"""

from __future__ import annotations

import json
import os
from typing import Any

SECRET_KEY = "django-orm-tests-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
INSTALLED_APPS = ["django_app", "tests.orm.djproject.notes"]
MIDDLEWARE = ["django_app.middleware.SpannerSessionMiddleware"]
ROOT_URLCONF = "tests.orm.djproject.urls"
WSGI_APPLICATION = "tests.orm.djproject.wsgi.application"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

_max_age = os.environ.get("ORM_CONN_MAX_AGE", "0")
SPANNER_ALIAS = os.environ.get("ORM_SPANNER_ALIAS", "default")
DATABASES: dict[str, Any] = {
    "default": {
        "ENGINE": "django_app.db",
        "CONN_MAX_AGE": None if _max_age.lower() == "none" else int(_max_age),
    }
}
if SPANNER_ALIAS != "default":
    DATABASES["default"]["OPTIONS"] = {"SPANNER_ALIAS": SPANNER_ALIAS}
if os.environ.get("ORM_DB_OPTIONS"):  # JSON, for the tests of bad OPTIONS
    DATABASES["default"]["OPTIONS"] = json.loads(os.environ["ORM_DB_OPTIONS"])

SPANNER: dict[str, Any] = {
    SPANNER_ALIAS: {
        "PROJECT": os.environ.get("ORM_SPANNER_PROJECT", "test-project"),
        "INSTANCE": os.environ.get("ORM_SPANNER_INSTANCE", "test-instance"),
        "DATABASE": os.environ.get("ORM_SPANNER_DATABASE", "base"),
        "POOL": os.environ.get("ORM_SPANNER_POOL", "pinging"),
        "POOL_SIZE": int(os.environ.get("ORM_SPANNER_POOL_SIZE", "2")),
        "POOL_TIMEOUT": 30,
    }
}
if os.environ.get("ORM_SPANNER_EMULATOR_HOST"):
    SPANNER[SPANNER_ALIAS]["EMULATOR_HOST"] = os.environ["ORM_SPANNER_EMULATOR_HOST"]
if SPANNER_ALIAS != "default":  # django_app wants a "default" alias; it stays unused here
    SPANNER["default"] = dict(SPANNER[SPANNER_ALIAS])

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"spanner_pools": {"handlers": ["console"], "level": "WARNING"}},
}

"""Django settings of the example site: no SQL database, one Spanner pool from the env."""

from __future__ import annotations

import os

from example_site.config import spanner_settings_from_env

# Demo default only; set DJANGO_SECRET_KEY in any real deployment.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-site-demo-key-not-for-production")
DEBUG = os.environ.get("DJANGO_DEBUG", "") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")

INSTALLED_APPS = ["django_app"]
MIDDLEWARE = ["django_app.middleware.SpannerSessionMiddleware"]
ROOT_URLCONF = "example_site.django_site.urls"
WSGI_APPLICATION = "example_site.django_site.wsgi.application"
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
TIME_ZONE = "UTC"

SPANNER = {"default": spanner_settings_from_env()}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s"}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {"spanner_pools": {"handlers": ["console"], "level": "INFO"}},
}

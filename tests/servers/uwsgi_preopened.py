"""A WSGI module that (wrongly) opens its pool at import, in uWSGI's master, before install():
the "opened before fork" warning must be logged once, not once per worker."""

from __future__ import annotations

import logging

import spanner_pools.uwsgi
from example_site.flask_site import create_app
from spanner_pools import registry

logging.basicConfig(level=logging.WARNING)
application = create_app()
registry.open_all()
spanner_pools.uwsgi.install()

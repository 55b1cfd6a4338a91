"""WSGI module of the Flask notes site for uWSGI: ``uwsgi --master --module
example_site.uwsgi_app:application``. The hooks are imported by their full name, so that
``uwsgi`` in this file would still be uWSGI's own module."""

from __future__ import annotations

import spanner_pools.uwsgi

from .flask_site import create_app

application = create_app()
spanner_pools.uwsgi.install()

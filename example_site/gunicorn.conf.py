"""gunicorn settings of the example site: several sync workers, one Spanner pool each.

``gunicorn -c example_site/gunicorn.conf.py`` serves the Flask site; set
``EXAMPLE_APP=example_site.django_site.wsgi:application`` (or pass the app on the command
line) for the Django one. Command-line options override these values.
"""

from __future__ import annotations

import os

# One pool per worker: built after fork, opened before the first request, closed on exit.
from spanner_pools.gunicorn import (
    child_exit,
    on_exit,
    on_starting,
    post_fork,
    post_worker_init,
    worker_exit,
)

__all__ = ["child_exit", "on_exit", "on_starting", "post_fork", "post_worker_init", "worker_exit"]

wsgi_app = os.environ.get("EXAMPLE_APP", "example_site.flask_site:create_app()")
bind = os.environ.get("EXAMPLE_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
graceful_timeout = 20
timeout = 60
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
proc_name = "example-site"
# No gunicornc control socket: it lives at one fixed path, shared by every gunicorn the
# user runs (the demo, the benchmarks, tests), and the demo has no use for it.
control_socket_disable = True

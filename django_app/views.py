# mypy: disable-error-code="import-untyped"
"""``metrics``: a Django view answering Prometheus scrapes (needs the ``prometheus`` extra).

``path("metrics/", django_app.views.metrics)`` in your URLconf. Importing this module installs
the metrics (:func:`spanner_pools.metrics.install`); call that yourself in ``wsgi.py`` too if
workers should report before their first request loads the URLconf.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from spanner_pools import metrics as _metrics

__all__ = ["metrics"]

_metrics.install()


def metrics(request: HttpRequest) -> HttpResponse:
    """The pools' metrics in Prometheus text format (every live worker's in multiprocess mode)."""
    body, content_type = _metrics.exposition()
    return HttpResponse(body, content_type=content_type)

"""Prometheus ``/metrics`` for a Flask app: ``register_metrics(app)`` (needs the ``prometheus`` extra).

A thin layer over :mod:`spanner_pools.metrics`: installing the metrics, answering a scrape
(all gunicorn workers' values when ``PROMETHEUS_MULTIPROC_DIR`` is set). Not imported by
``flask_ext`` itself, so apps without prometheus-client are unaffected.
"""

from __future__ import annotations

from flask import Flask, Response

from spanner_pools import metrics

__all__ = ["metrics_view", "register_metrics"]


def metrics_view() -> Response:
    """Answer a Prometheus scrape with the pools' metrics (text exposition format)."""
    body, content_type = metrics.exposition()
    return Response(body, status=200, content_type=content_type)


def register_metrics(
    app: Flask, rule: str = "/metrics", *, endpoint: str = "spanner_pools_metrics"
) -> None:
    """Install the metrics in this process and serve them at ``rule`` (GET)."""
    metrics.install()
    app.add_url_rule(rule, endpoint, metrics_view, methods=["GET"])

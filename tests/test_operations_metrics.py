"""Prometheus metrics: values follow the pool, Flask and Django expose them, and gunicorn
workers add up in multiprocess mode (and a killed worker's gauges go with ``child_exit``)."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from flask_ext import Spanner
from flask_ext.metrics import register_metrics
from spanner_pools import PoolExhausted, PoolManager, metrics

from .e2e import GunicornServer, hammer, request
from .forking import run_script

Make = Callable[..., PoolManager]


def value(text: str, name: str, **labels: str) -> float:
    """Sum of the samples called ``name`` whose labels include ``labels``."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


@pytest.fixture
def registry() -> Iterator[CollectorRegistry]:
    registry = CollectorRegistry()
    yield registry
    metrics.uninstall(registry)


def test_metrics_follow_the_pool(make_manager: Make, registry: CollectorRegistry) -> None:
    manager = make_manager(POOL_SIZE=2, POOL_TIMEOUT=0.05)
    with manager.handle() as handle:  # before install(): caught up by install()
        handle.execute_sql("SELECT 1")
    metrics.install(registry)
    assert metrics.install(registry) is metrics.install(registry)  # idempotent
    labels = {"alias": "default", "database": manager.settings.database}

    def get(name: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert get("spanner_pools_checkouts_total") == 1
    assert get("spanner_pools_sessions_created_total") == 2
    first, second = manager.handle(), manager.handle()
    first.execute_sql("SELECT 1")
    second.execute_sql("SELECT 1")
    assert (get("spanner_pools_sessions_in_use"), get("spanner_pools_sessions_available")) == (2, 0)
    with pytest.raises(PoolExhausted):
        manager.handle().execute_sql("SELECT 1")
    first.close()
    second.close()
    pinged = manager.ping()

    assert get("spanner_pools_checkouts_total") == 3
    assert get("spanner_pools_checkout_wait_seconds_count") == 2  # observed after install
    assert get("spanner_pools_checkout_timeouts_total") == 1
    assert get("spanner_pools_pings_total") == pinged == 2
    assert get("spanner_pools_pool_size") == get("spanner_pools_sessions") == 2
    assert (get("spanner_pools_sessions_in_use"), get("spanner_pools_sessions_available")) == (0, 2)
    assert get("spanner_pools_sessions_max_in_use") == 2
    manager.close()
    assert get("spanner_pools_sessions") == get("spanner_pools_pool_size") == 0
    assert get("spanner_pools_sessions_deleted_total") == 2


def test_flask_route_and_django_view(spanner_config: dict[str, Any]) -> None:
    app = Flask("metrics_app")
    app.config.update({f"SPANNER_{k}": v for k, v in spanner_config.items()})
    spanner = Spanner(app)
    register_metrics(app)
    try:
        with app.app_context():
            spanner.session.execute_sql("SELECT 1")
        response = app.test_client().get("/metrics")
        assert response.status_code == 200
        assert response.content_type.startswith("text/plain; version=")
        text = response.get_data(as_text=True)
        assert value(text, "spanner_pools_checkouts_total", alias="metrics_app") == 1
        assert value(text, "spanner_pools_sessions", alias="metrics_app") == 3
    finally:
        metrics.uninstall()

    # Django, in its own interpreter (this one keeps Django unconfigured for the core tests).
    script = """
        import json, sys
        from django.conf import settings
        settings.configure(INSTALLED_APPS=["django_app"], SPANNER={"default": json.loads(sys.argv[1])})
        import django
        django.setup()
        from django.test import RequestFactory
        from django_app import pools, views
        with pools["default"].handle() as handle:
            handle.execute_sql("SELECT 1")
        response = views.metrics(RequestFactory().get("/metrics"))
        print(json.dumps([response.status_code, response["Content-Type"], response.content.decode()]))
        pools["default"].close()
        """
    status, content_type, text = run_script(script, json.dumps(spanner_config))
    assert status == 200 and content_type.startswith("text/plain; version=")
    assert value(text, "spanner_pools_checkouts_total", alias="default") == 1


def create_app() -> Flask:
    """The app gunicorn serves below: config from ``SPANNER_*`` environment variables."""
    app = Flask("metrics_e2e")
    app.config.update({k: v for k, v in os.environ.items() if k.startswith("SPANNER_")})
    spanner = Spanner(app)
    register_metrics(app)

    @app.get("/query")
    def query() -> dict[str, Any]:
        return {"rows": spanner.session.execute_sql("SELECT 1"), "pid": os.getpid()}

    return app


GUNICORN_CONF = """\
from spanner_pools.gunicorn import post_fork, post_worker_init, worker_exit
from spanner_pools.metrics import child_exit
"""


def live_pids(directory: Path) -> set[int]:
    """Processes that have live gauges in the multiprocess directory."""
    return {int(p.stem.rsplit("_", 1)[1]) for p in directory.glob("gauge_livesum_*.db")}


@pytest.mark.e2e
def test_gunicorn_workers_add_up_and_a_killed_worker_drops_out(
    tmp_path: Path, spanner_config: dict[str, Any]
) -> None:
    directory = tmp_path / "prometheus"
    directory.mkdir()
    config = tmp_path / "gunicorn.conf.py"
    config.write_text(GUNICORN_CONF)
    env = {f"SPANNER_{k}": str(v) for k, v in spanner_config.items()}
    env.update(SPANNER_POOL_SIZE="2", PROMETHEUS_MULTIPROC_DIR=str(directory))
    server = GunicornServer(
        "tests.test_operations_metrics:create_app()", workers=2, config=str(config), env=env
    )
    with server:
        deadline = time.monotonic() + 60  # guards against a hang only
        while len(live_pids(directory)) < 2 or value(scrape(server), "spanner_pools_sessions") < 4:
            assert time.monotonic() < deadline, server.log()[-3000:]
            time.sleep(0.1)
        replies = hammer(server.port, [("GET", "/query", None)] * 20, concurrency=2)
        assert [r.status for r in replies] == [200] * 20

        text = scrape(server)
        assert value(text, "spanner_pools_checkouts_total") == 20  # summed over both workers
        assert value(text, "spanner_pools_checkout_wait_seconds_count") == 20
        assert value(text, "spanner_pools_sessions_created_total") == 4
        assert value(text, "spanner_pools_sessions") == value(text, "spanner_pools_pool_size") == 4
        assert value(text, "spanner_pools_sessions_in_use") == 0

        victim = min(live_pids(directory))
        os.kill(victim, signal.SIGKILL)  # no worker_exit: only the master's child_exit cleans up
        while victim in live_pids(directory) or len(live_pids(directory)) < 2:
            assert time.monotonic() < deadline, server.log()[-3000:]
            time.sleep(0.1)
        while value(text := scrape(server), "spanner_pools_sessions") != 4:
            assert time.monotonic() < deadline, text
            time.sleep(0.1)
        assert value(text, "spanner_pools_pool_size") == 4  # the dead worker's 2 are gone
        assert value(text, "spanner_pools_checkouts_total") == 20  # its counts stay
        assert value(text, "spanner_pools_sessions_created_total") == 6


def scrape(server: GunicornServer) -> str:
    reply = request(server.port, "GET", "/metrics")
    assert reply.status == 200, reply.body
    return reply.body.decode()

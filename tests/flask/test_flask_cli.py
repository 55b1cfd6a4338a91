"""``flask spanner status|ping``: the server's view of every database, bounded by a deadline."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from flask_ext import Spanner
from spanner_pools import PoolManager
from spanner_pools.emulator import Emulator, free_port
from tests.proxy import BlackHoleProxy


@pytest.fixture
def app(spanner_config: dict[str, Any], events_database: str) -> Flask:
    """An app with the default database and the ``analytics`` bind (LABELS on the default)."""
    app = Flask("cliapp")
    app.config.from_mapping({f"SPANNER_{key}": value for key, value in spanner_config.items()})
    app.config["SPANNER_LABELS"] = {"team": "web"}
    app.config["SPANNER_BINDS"] = {"analytics": {"DATABASE": events_database, "POOL_SIZE": 2}}
    Spanner(app)
    return app


def invoke(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["spanner", *args])


def test_status_reports_the_servers_sessions_without_a_pool(
    app: Flask, spanner_config: dict[str, Any], events_database: str, tmp_path: Path
) -> None:
    # A "web worker" of the same app holds a pool; the CLI must report it, not build its own.
    worker: PoolManager = app.extensions["spanner"]
    worker.open()
    result = invoke(app, "status")
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("default: projects/test-project/instances/test-instance/databases/")
    assert "reachable:  yes (SELECT 1 in" in out
    assert "sessions:   3 on the server" in out and "team=web: 3; unlabeled: 0" in out
    assert (
        f"analytics: projects/test-project/instances/test-instance/databases/{events_database}"
        in out
    )
    assert "sessions:   0 on the server" in out  # the bind's pool was never opened
    assert not app.extensions["spanner_binds"]["analytics"].opened  # no pool in the CLI
    assert worker.stats()["checkouts"] == 0  # the probe did not borrow the worker's sessions


def test_status_json_and_one_bind(app: Flask, events_database: str) -> None:
    result = invoke(app, "status", "--bind", "analytics", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["ok"] is True
    [(name, report)] = document["databases"].items()
    assert name == "analytics"
    assert report["database"].endswith(events_database)
    assert report["reachable"] is True and report["sessions"]["total"] == 0
    assert report["settings"]["POOL_SIZE"] == 2


def test_credentials_are_masked(spanner_config: dict[str, Any], tmp_path: Path) -> None:
    key_file = tmp_path / "secret-key.json"
    key_file.write_text("{}")
    app = Flask("masked")
    app.config.from_mapping({f"SPANNER_{key}": value for key, value in spanner_config.items()})
    app.config["SPANNER_CREDENTIALS"] = str(key_file)
    Spanner(app)
    result = invoke(app, "status", "--json")
    assert result.exit_code == 0, result.output
    assert "secret-key" not in result.output and '"***"' in result.output


def test_ping_every_database(app: Flask) -> None:
    result = invoke(app, "ping")
    assert result.exit_code == 0, result.output
    assert result.output.count("reachable:  yes") == 2
    assert "sessions" not in result.output


def test_unknown_bind_is_a_usage_error(app: Flask) -> None:
    result = invoke(app, "ping", "--bind", "nope")
    assert result.exit_code == 2
    assert "no Spanner bind 'nope' (configured: 'default', 'analytics'" in result.output


@pytest.mark.parametrize("command", ["status", "ping"])
def test_unreachable_database_exits_non_zero(spanner_config: dict[str, Any], command: str) -> None:
    app = Flask("down")
    app.config.from_mapping({f"SPANNER_{key}": value for key, value in spanner_config.items()})
    app.config["SPANNER_EMULATOR_HOST"] = f"127.0.0.1:{free_port()}"
    app.config["SPANNER_RPC_TIMEOUT"] = 2
    Spanner(app)
    result = invoke(app, command)
    assert result.exit_code == 1, result.output
    assert "reachable:  NO (" in result.output
    assert "Spanner database 'default' (projects/" in result.output
    assert "is unreachable" in result.output and "Traceback" not in result.output


@pytest.fixture
def black_hole(emulator: Emulator) -> Iterator[BlackHoleProxy]:
    hole = BlackHoleProxy(int(emulator.host.rsplit(":", 1)[1]))
    hole.black_hole = True
    yield hole
    hole.close()


def test_server_that_never_answers_is_bounded_by_timeout(
    app: Flask, black_hole: BlackHoleProxy
) -> None:
    hung = Flask("hung")  # the same databases, both behind the black hole
    hung.config.from_mapping({k: v for k, v in app.config.items() if k.startswith("SPANNER_")})
    hung.config["SPANNER_EMULATOR_HOST"] = black_hole.host
    hung.config["SPANNER_BINDS"] = {
        "analytics": {**app.config["SPANNER_BINDS"]["analytics"], "EMULATOR_HOST": black_hole.host}
    }
    Spanner(hung)
    deadline = 2.0
    start = time.monotonic()
    result = invoke(hung, "status", "--timeout", str(deadline))
    elapsed = time.monotonic() - start
    assert result.exit_code == 1, result.output
    # --timeout is honoured (RPC_TIMEOUT, 30 s, would make it 30 s or more); parallelism is
    # tested load-independently in tests/test_status.py.
    assert elapsed < 20, elapsed
    assert result.output.count("DeadlineExceeded") >= 2

"""The Flask extension against the real emulator: config, handle lifetime, 503, apps, CLI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from flask_ext import Spanner, spanner_cli
from flask_ext.binds import BoundHandles, BoundSessions
from spanner_pools import (
    ConfigurationError,
    PoolError,
    PoolExhausted,
    PoolManager,
    SessionHandle,
)
from spanner_pools._compat import NO_BUILTIN_METRICS
from spanner_pools.emulator import free_port, provision
from tests.conftest import INSTANCE, PROJECT, SCHEMA

AppFactory = Callable[..., tuple[Flask, Spanner]]


@pytest.fixture
def flask_config(spanner_config: dict[str, Any]) -> dict[str, Any]:
    """This test's database settings as Flask config keys."""
    return {f"SPANNER_{key}": value for key, value in spanner_config.items()}


@pytest.fixture
def make_app(flask_config: dict[str, Any]) -> AppFactory:
    """A Flask app with a fresh ``Spanner`` extension and the test views."""

    def make(ext: Spanner | None = None, name: str = "app", **config: Any) -> tuple[Flask, Spanner]:
        app = Flask(name)
        app.config.from_mapping({**flask_config, **config})
        spanner = ext or Spanner()
        spanner.init_app(app)

        @app.get("/nothing")
        def nothing() -> str:
            return "no spanner here"

        @app.get("/read")
        def read() -> dict[str, Any]:
            first = spanner.session
            rows = first.execute_sql("SELECT 1")
            assert spanner.session is first  # one handle per app context
            second = spanner.session.execute_sql("SELECT 2")
            return {"rows": rows + second, "session": first.session.session_id}

        @app.get("/boom")
        def boom() -> str:
            spanner.session.execute_sql("SELECT 1")
            raise RuntimeError("boom after using a session")

        @app.get("/close-early")
        def close_early() -> str:
            spanner.session.execute_sql("SELECT 1")
            spanner.session.close()
            return "closed"

        return app, spanner

    return make


def stats(app: Flask) -> dict[str, Any]:
    manager: PoolManager = app.extensions["spanner"]
    return manager.stats()


# -- config ---------------------------------------------------------------------------------

GOOD_VALUES = [
    ("SPANNER_POOL", "bursty", "pool", "bursty"),
    ("SPANNER_POOL_SIZE", 2, "pool_size", 2),
    ("SPANNER_POOL_SIZE", " 7 ", "pool_size", 7),
    ("SPANNER_POOL_TIMEOUT", "0.5", "pool_timeout", 0.5),
    ("SPANNER_PING_INTERVAL", "60", "ping_interval", 60.0),
    ("SPANNER_DATABASE_ROLE", "reader", "database_role", "reader"),
    ("SPANNER_LABELS", {"team": "web"}, "labels", {"team": "web"}),
    ("SPANNER_LABELS", '{"team": "web", "env": "test"}', "labels", {"team": "web", "env": "test"}),
    ("SPANNER_MAX_SESSION_AGE", "86400", "max_session_age", 86400.0),
    ("SPANNER_LEAK_TIMEOUT", "30", "leak_timeout", 30.0),
    ("SPANNER_RPC_TIMEOUT", 5, "rpc_timeout", 5.0),
    ("SPANNER_RPC_TIMEOUT", "1e1", "rpc_timeout", 10.0),
]


@pytest.mark.parametrize(("key", "value", "attr", "expected"), GOOD_VALUES)
def test_good_config_values(
    make_app: AppFactory, key: str, value: Any, attr: str, expected: Any
) -> None:
    app, _ = make_app(**{key: value})
    assert getattr(app.extensions["spanner"].settings, attr) == expected


def test_config_from_prefixed_env(
    flask_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLASK_SPANNER_POOL_SIZE", "4")
    monkeypatch.setenv("FLASK_SPANNER_LABELS", '{"team": "web"}')
    app = Flask("env")
    app.config.from_mapping(flask_config)
    app.config.from_prefixed_env()
    Spanner(app)
    settings = app.extensions["spanner"].settings
    assert (settings.pool_size, dict(settings.labels)) == (4, {"team": "web"})


def test_defaults_are_set_in_config(make_app: AppFactory) -> None:
    app, _ = make_app()
    assert app.config["SPANNER_POOL"] == "pinging"
    assert app.config["SPANNER_POOL_TIMEOUT"] == 5.0
    assert app.config["SPANNER_LEAK_TIMEOUT"] is None
    assert app.config["SPANNER_POOL_SIZE"] == 3  # the test's own value is kept


def test_credentials_path_is_accepted_and_masked(make_app: AppFactory, tmp_path: Path) -> None:
    key_file = tmp_path / "key.json"
    key_file.write_text("{}")
    app, _ = make_app(SPANNER_CREDENTIALS=str(key_file))
    assert app.extensions["spanner"].settings.credentials == str(key_file)
    assert app.extensions["spanner"].settings.describe()["CREDENTIALS"] == "***"


BAD_VALUES = [
    ("SPANNER_PROJECT", 123),
    ("SPANNER_INSTANCE", "Bad_Instance"),
    ("SPANNER_DATABASE", "1-starts-with-digit"),
    ("SPANNER_POOL", "huge"),
    ("SPANNER_POOL_SIZE", 0),
    ("SPANNER_POOL_SIZE", "ten"),
    ("SPANNER_POOL_SIZE", "2.5"),
    ("SPANNER_POOL_SIZE", ""),
    ("SPANNER_POOL_TIMEOUT", -1),
    ("SPANNER_POOL_TIMEOUT", "soon"),
    ("SPANNER_POOL_TIMEOUT", "inf"),
    ("SPANNER_PING_INTERVAL", 0),
    ("SPANNER_PING_INTERVAL", "7200"),
    ("SPANNER_EMULATOR_HOST", "http://localhost:9010"),
    ("SPANNER_DATABASE_ROLE", ""),
    ("SPANNER_LABELS", "not json"),
    ("SPANNER_LABELS", '["a", "b"]'),
    ("SPANNER_LABELS", {"Bad Key": "x"}),
    ("SPANNER_CREDENTIALS", "/nonexistent/key.json"),
    ("SPANNER_MAX_SESSION_AGE", 10),  # below PING_INTERVAL
    ("SPANNER_LEAK_TIMEOUT", "later"),
    ("SPANNER_RPC_TIMEOUT", 0),
    ("SPANNER_RPC_TIMEOUT", True),
]


@pytest.mark.parametrize(("key", "value"), BAD_VALUES)
def test_bad_config_value_fails_at_init_app_naming_the_key(
    make_app: AppFactory, key: str, value: Any
) -> None:
    with pytest.raises(ConfigurationError) as info:
        make_app(**{key: value})
    assert info.value.key == key
    assert str(info.value).startswith(key)
    assert str(value).strip() in str(info.value)


@pytest.mark.parametrize("key", ["SPANNER_INSTANCE", "SPANNER_DATABASE"])
def test_missing_required_key(make_app: AppFactory, key: str) -> None:
    with pytest.raises(ConfigurationError, match=f"{key} is required"):
        make_app(**{key: None})


def test_unknown_spanner_key_is_an_error(make_app: AppFactory) -> None:
    with pytest.raises(ConfigurationError, match="SPANNER_POOL_SIZ: unknown setting") as info:
        make_app(SPANNER_POOL_SIZ=5)
    assert info.value.key == "SPANNER_POOL_SIZ"


def test_init_app_makes_no_network_call(flask_config: dict[str, Any]) -> None:
    """Config pointing at a port nothing listens on: init_app still succeeds."""
    app = Flask("offline")
    app.config.from_mapping({**flask_config, "SPANNER_EMULATOR_HOST": f"127.0.0.1:{free_port()}"})
    Spanner(app)
    assert stats(app)["opened"] is False


# -- registration ---------------------------------------------------------------------------


def test_registering_twice_fails_loudly(make_app: AppFactory) -> None:
    app, spanner = make_app()
    with pytest.raises(RuntimeError, match="already been registered"):
        spanner.init_app(app)
    with pytest.raises(RuntimeError, match="already been registered"):
        Spanner(app)


def test_not_registered_app_is_a_clear_error(make_app: AppFactory) -> None:
    _, spanner = make_app()
    other = Flask("other")
    with (
        other.app_context(),
        pytest.raises(RuntimeError, match="Did you forget to call 'init_app'"),
    ):
        _ = spanner.session
    with pytest.raises(RuntimeError, match="Did you forget to call 'init_app'"):
        spanner.get_manager(other)


def test_app_registered_with_another_instance(make_app: AppFactory) -> None:
    app, _ = make_app()
    stranger = Spanner()
    with app.app_context(), pytest.raises(RuntimeError, match="multiple 'Spanner' instances"):
        stranger.stats()


def test_outside_app_context_is_a_runtime_error(make_app: AppFactory) -> None:
    _, spanner = make_app()
    for use in (
        lambda: spanner.session,
        lambda: spanner.database,
        lambda: spanner.manager,
        spanner.stats,
    ):
        with pytest.raises(RuntimeError, match="outside of an application context"):
            use()


def test_two_apps_in_one_process_have_separate_managers(
    make_app: AppFactory, emulator: Any, database_id: str
) -> None:
    other_db = database_id + "b2"
    provision(emulator.host, project=PROJECT, instance=INSTANCE, database=other_db, ddl=SCHEMA)
    spanner = Spanner()
    app1, _ = make_app(ext=spanner, name="one")
    app2, _ = make_app(ext=spanner, name="two", SPANNER_DATABASE=other_db, SPANNER_POOL_SIZE=1)
    m1, m2 = app1.extensions["spanner"], app2.extensions["spanner"]
    try:
        assert m1 is not m2
        with app1.app_context():
            assert spanner.manager is m1
            assert spanner.database.name.endswith("/" + database_id)
        with app2.app_context():
            assert spanner.manager is m2
            assert spanner.database.name.endswith("/" + other_db)
        s1 = app1.test_client().get("/read").get_json()["session"]
        s2 = app2.test_client().get("/read").get_json()["session"]
        assert s1 != s2
        assert stats(app1)["checkouts"] == 1 and stats(app1)["size"] == 3
        assert stats(app2)["checkouts"] == 1 and stats(app2)["size"] == 1
    finally:
        m2.close()
        drop_database(emulator.host, other_db)  # the emulator allows 100 per instance


def drop_database(host: str, database: str) -> None:
    """Drop a database this test created besides ``database_id``."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud.spanner_v1 import Client

    client = Client(
        project=PROJECT,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": host},
        **NO_BUILTIN_METRICS,
    )
    client.instance(INSTANCE).database(database).drop()
    client.database_admin_api.transport.close()


# -- the request-scoped handle ----------------------------------------------------------------


def test_view_not_touching_spanner_checks_out_nothing(make_app: AppFactory) -> None:
    app, _ = make_app()
    assert app.test_client().get("/nothing").status_code == 200
    assert stats(app)["checkouts"] == 0
    assert stats(app)["opened"] is False


def test_handle_is_returned_after_the_request(make_app: AppFactory) -> None:
    app, _ = make_app()
    client = app.test_client()
    for n in range(1, 4):
        response = client.get("/read")
        assert response.status_code == 200
        assert response.get_json()["rows"] == [[1], [2]]
        s = stats(app)
        assert (s["checkouts"], s["in_use"], s["available"]) == (n, 0, 3)


def test_handle_is_returned_after_an_exception(make_app: AppFactory) -> None:
    app, _ = make_app()
    response = app.test_client().get("/boom")
    assert response.status_code == 500
    s = stats(app)
    assert (s["checkouts"], s["in_use"], s["available"]) == (1, 0, 3)
    app.testing = True  # the exception propagates to the test; teardown still runs
    with pytest.raises(RuntimeError, match="boom"):
        app.test_client().get("/boom")
    s = stats(app)
    assert (s["checkouts"], s["in_use"], s["available"]) == (2, 0, 3)


def test_handle_is_never_returned_twice(make_app: AppFactory) -> None:
    app, _ = make_app()
    client = app.test_client()
    assert client.get("/close-early").status_code == 200
    assert client.get("/close-early").status_code == 200
    s = stats(app)
    assert (s["checkouts"], s["in_use"], s["available"], s["max_in_use"]) == (2, 0, 3, 1)


def test_closed_handle_is_replaced_on_next_access(make_app: AppFactory) -> None:
    app, spanner = make_app()
    with app.app_context():
        first = spanner.session
        first.close()
        second = spanner.session
        assert second is not first and not second.closed
        assert second.execute_sql("SELECT 3") == [[3]]
        assert stats(app)["in_use"] == 1
    assert stats(app)["in_use"] == 0


def test_handle_names_and_their_older_aliases(make_app: AppFactory) -> None:
    # spanner.handle / spanner.handles are the names; session / sessions the older ones.
    app, spanner = make_app()
    with app.app_context():
        handle = spanner.handle
        assert isinstance(handle, SessionHandle)
        assert spanner.session is handle is spanner.handles[None] is spanner.sessions[None]
        assert spanner.sessions is spanner.handles
        assert isinstance(spanner.handles, BoundHandles) and BoundSessions is BoundHandles
        assert handle.execute_sql("SELECT 4") == [[4]]
        assert handle.session.session_id  # the client's Session behind the handle
        manager = spanner.manager
        with manager.handle() as own, manager.session() as older:
            assert own is not older and own is not handle
            assert own.execute_sql("SELECT 5") == older.execute_sql("SELECT 5") == [[5]]
        assert stats(app)["in_use"] == 1
    assert stats(app)["in_use"] == 0


def test_database_and_stats_of_the_current_app(make_app: AppFactory, database_id: str) -> None:
    app, spanner = make_app()
    with app.app_context():
        assert spanner.database.name.endswith("/databases/" + database_id)
        s = spanner.stats()
    assert s["database"] == database_id and s["alias"] == "app"


# -- 503 ----------------------------------------------------------------------------------------


def exhausted_app(make_app: AppFactory) -> tuple[Flask, Spanner]:
    return make_app(SPANNER_POOL_SIZE=1, SPANNER_POOL_TIMEOUT=0.2)


def test_exhausted_pool_gives_503_with_retry_after(make_app: AppFactory) -> None:
    app, _ = exhausted_app(make_app)
    manager: PoolManager = app.extensions["spanner"]
    with manager.handle() as held:
        held.execute_sql("SELECT 1")  # the only session is now checked out
        response = app.test_client().get("/read")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert b"retry" in response.data.lower()
    s = stats(app)
    assert (s["timeouts"], s["in_use"]) == (1, 0)
    assert app.test_client().get("/read").status_code == 200


def test_app_error_handler_for_pool_exhausted_wins(make_app: AppFactory) -> None:
    app, _ = exhausted_app(make_app)

    @app.errorhandler(PoolExhausted)
    def busy(error: PoolExhausted) -> tuple[dict[str, Any], int]:
        return {"busy": True, "retry_after": error.retry_after}, 429

    with app.extensions["spanner"].handle() as held:
        held.execute_sql("SELECT 1")
        response = app.test_client().get("/read")
    assert response.status_code == 429
    assert response.get_json() == {"busy": True, "retry_after": 1}


def test_app_pool_error_handler_registered_before_init_app_is_kept(
    flask_config: dict[str, Any],
) -> None:
    app = Flask("early")
    app.config.from_mapping({**flask_config, "SPANNER_POOL_SIZE": 1, "SPANNER_POOL_TIMEOUT": 0.2})

    @app.errorhandler(PoolError)
    def mine(error: PoolError) -> tuple[str, int]:
        return "mine", 599

    spanner = Spanner(app)

    @app.get("/read")
    def read() -> str:
        spanner.session.execute_sql("SELECT 1")
        return "ok"

    with app.extensions["spanner"].handle() as held:
        held.execute_sql("SELECT 1")
        response = app.test_client().get("/read")
    assert (response.status_code, response.data) == (599, b"mine")


def test_503_goes_through_the_apps_503_handler(make_app: AppFactory) -> None:
    app, _ = exhausted_app(make_app)

    @app.errorhandler(503)
    def unavailable(error: Any) -> tuple[str, int, dict[str, str]]:
        return "custom 503", 503, dict(error.get_headers())

    with app.extensions["spanner"].handle() as held:
        held.execute_sql("SELECT 1")
        response = app.test_client().get("/read")
    assert (response.status_code, response.data) == (503, b"custom 503")
    assert response.headers["Retry-After"] == "1"


def test_unreachable_database_gives_503(flask_config: dict[str, Any]) -> None:
    app = Flask("down")
    app.config.from_mapping(
        {
            **flask_config,
            "SPANNER_EMULATOR_HOST": f"127.0.0.1:{free_port()}",
            "SPANNER_RPC_TIMEOUT": 1,
        }
    )
    spanner = Spanner(app)

    @app.get("/read")
    def read() -> str:
        spanner.session.execute_sql("SELECT 1")
        return "ok"

    response = app.test_client().get("/read")
    assert response.status_code == 503
    assert "Retry-After" in response.headers
    assert stats(app)["in_use"] == 0


# -- CLI: tests/flask/test_flask_cli.py ------------------------------------------------------


def test_cli_without_extension_is_a_usage_error() -> None:
    app = Flask("bare")
    app.cli.add_command(spanner_cli)
    result = app.test_cli_runner().invoke(args=["spanner", "status"])
    assert result.exit_code == 2
    assert "Did you forget to call 'init_app'" in result.output

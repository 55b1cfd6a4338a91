"""``SPANNER_BINDS``: several databases per Flask app, against two emulator databases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from flask_ext import BindDoesNotExist, Spanner
from spanner_pools import ConfigurationError, PoolManager

AppFactory = Callable[..., tuple[Flask, Spanner]]


@pytest.fixture
def flask_config(spanner_config: dict[str, Any], events_database: str) -> dict[str, Any]:
    """The default database as ``SPANNER_*`` keys and the events database as a bind."""
    config: dict[str, Any] = {f"SPANNER_{key}": value for key, value in spanner_config.items()}
    config["SPANNER_BINDS"] = {"analytics": {"DATABASE": events_database, "POOL_SIZE": "2"}}
    return config


@pytest.fixture
def make_app(flask_config: dict[str, Any]) -> AppFactory:
    def make(**config: Any) -> tuple[Flask, Spanner]:
        app = Flask("bindsapp")
        app.config.from_mapping({**flask_config, **config})
        spanner = Spanner(app)

        @app.get("/both")
        def both() -> dict[str, Any]:
            analytics = spanner.sessions["analytics"]
            assert spanner.sessions["analytics"] is analytics  # one handle per bind per context
            assert spanner.sessions[None] is spanner.session
            analytics.execute_update("INSERT INTO events (id, kind) VALUES ('e1', 'view')")
            events = analytics.execute_sql("SELECT COUNT(*) FROM events")
            notes = spanner.session.execute_sql("SELECT COUNT(*) FROM notes")
            return {"events": events[0][0], "notes": notes[0][0]}

        @app.get("/unknown")
        def unknown() -> str:
            try:
                spanner.sessions["nope"]
            except KeyError as exc:
                return str(exc)
            return "no error"

        return app, spanner

    return make


def managers(app: Flask) -> tuple[PoolManager, PoolManager]:
    return app.extensions["spanner"], app.extensions["spanner_binds"]["analytics"]


def test_bind_inherits_where_the_database_lives(
    make_app: AppFactory, spanner_config: dict[str, Any], events_database: str
) -> None:
    app, _ = make_app(SPANNER_POOL_SIZE=5, SPANNER_LABELS={"team": "web"})
    default, analytics = managers(app)
    s = analytics.settings
    assert (s.project, s.instance, s.emulator_host) == (
        spanner_config["PROJECT"],
        spanner_config["INSTANCE"],
        spanner_config["EMULATOR_HOST"],
    )
    assert s.database == events_database
    assert s.pool_size == 2  # its own key, a numeric string (the one string rule)
    assert dict(s.labels) == {}  # pool settings are not inherited: the library default
    assert default.settings.pool_size == 5
    assert analytics.alias == "bindsapp:analytics" and default.alias == "bindsapp"


def test_bind_can_set_its_own_instance(make_app: AppFactory, events_database: str) -> None:
    app, _ = make_app(SPANNER_BINDS={"other": {"INSTANCE": "other-inst", "DATABASE": "x_db"}})
    _, other = app.extensions["spanner"], app.extensions["spanner_binds"]["other"]
    assert (other.settings.instance, other.settings.database) == ("other-inst", "x_db")


@pytest.mark.parametrize(
    ("binds", "message"),
    [
        (
            {"analytics": {"DATABASE": "events", "POOL_SIZE": 0}},
            "SPANNER_BINDS['analytics']['POOL_SIZE']: expected an integer from 1 to 1000, got 0",
        ),
        (
            {"analytics": {"DATABASE": "events", "POOL_SIZE": "ten"}},
            "SPANNER_BINDS['analytics']['POOL_SIZE']: expected an integer (or a string of digits)",
        ),
        (
            {"analytics": {"DATABASE": "events", "POOL_SIZ": 3}},
            "SPANNER_BINDS['analytics']['POOL_SIZ']: unknown setting (did you mean "
            "SPANNER_BINDS['analytics']['POOL_SIZE']?",
        ),
        ({"analytics": {"POOL_SIZE": 3}}, "SPANNER_BINDS['analytics']['DATABASE'] is required"),
        ({"analytics": "events"}, "SPANNER_BINDS['analytics']: expected a dict of settings"),
        ({"default": {"DATABASE": "events"}}, "SPANNER_BINDS: bind name 'default' is not valid"),
        ({"": {"DATABASE": "events"}}, "SPANNER_BINDS: bind name '' is not valid"),
        (["analytics"], "SPANNER_BINDS: expected a dict of bind names to dicts of settings"),
    ],
)
def test_bad_binds_name_the_bind_and_the_key(
    flask_config: dict[str, Any], binds: Any, message: str
) -> None:
    app = Flask("bad")
    app.config.from_mapping({**flask_config, "SPANNER_BINDS": binds})
    with pytest.raises(ConfigurationError) as caught:
        Spanner(app)
    assert str(caught.value).startswith(message), str(caught.value)
    assert "spanner" not in app.extensions  # nothing half-registered


def test_a_handle_per_bind_per_request_each_returned(make_app: AppFactory) -> None:
    app, _ = make_app()
    client = app.test_client()
    first = client.get("/both")
    assert first.status_code == 200, first.text
    assert first.json == {"events": 1, "notes": 0}  # each handle talks to its own database
    default, analytics = managers(app)
    for manager in (default, analytics):
        stats = manager.stats()
        assert stats["in_use"] == 0 and stats["checkouts"] >= 1, stats
    assert analytics.stats()["size"] == 2 and default.stats()["size"] == 3


def test_unknown_bind_lists_the_binds(make_app: AppFactory) -> None:
    app, spanner = make_app()
    text = app.test_client().get("/unknown").text
    assert "Spanner bind 'nope' is not configured in SPANNER_BINDS" in text
    assert "configured binds: 'analytics'" in text
    with app.app_context():
        assert "nope" not in spanner.sessions
        assert list(spanner.sessions) == [None, "analytics"]
        with pytest.raises(BindDoesNotExist):
            spanner.get_manager(bind="nope")
        assert spanner.stats("analytics")["database"] == managers(app)[1].settings.database
        assert spanner.get_manager(bind="analytics") is managers(app)[1]


def test_no_binds_keeps_one_database(spanner_config: dict[str, Any]) -> None:
    app = Flask("single")
    app.config.from_mapping({f"SPANNER_{k}": v for k, v in spanner_config.items()})
    spanner = Spanner(app)
    assert dict(app.extensions["spanner_binds"]) == {}
    with app.app_context():
        assert list(spanner.sessions) == [None]

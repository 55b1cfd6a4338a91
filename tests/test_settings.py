"""SpannerSettings: every key, good and bad; errors name the key; no network."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from spanner_pools import SETTINGS_KEYS, ConfigurationError, PoolManager, SpannerSettings

BASE = {"PROJECT": "p1", "INSTANCE": "inst", "DATABASE": "db1"}


def build(environ: dict[str, str] | None = None, **values: Any) -> SpannerSettings:
    return SpannerSettings.from_mapping({**BASE, **values}, environ=environ or {})


def test_defaults() -> None:
    s = build()
    assert (s.project, s.instance, s.database) == ("p1", "inst", "db1")
    assert s.pool == "pinging"
    assert s.pool_size == 10
    assert s.pool_timeout == 5
    assert s.ping_interval == 300
    assert s.emulator_host is None
    assert s.database_role is None
    assert dict(s.labels) == {}
    assert s.credentials is None
    assert s.leak_timeout is None
    assert 0 < s.max_session_age < 28 * 86400


@pytest.mark.parametrize(
    ("key", "value", "attr", "expected"),
    [
        ("POOL", "transaction_pinging", "pool", "transaction_pinging"),
        ("POOL", "bursty", "pool", "bursty"),
        ("POOL", "multiplexed", "pool", "multiplexed"),
        ("POOL_SIZE", 1, "pool_size", 1),
        ("POOL_SIZE", 1000, "pool_size", 1000),
        ("POOL_TIMEOUT", 0.25, "pool_timeout", 0.25),
        ("POOL_TIMEOUT", 30, "pool_timeout", 30.0),
        ("PING_INTERVAL", 0.5, "ping_interval", 0.5),
        ("PING_INTERVAL", 3599, "ping_interval", 3599.0),
        ("EMULATOR_HOST", "localhost:9010", "emulator_host", "localhost:9010"),
        ("EMULATOR_HOST", "127.0.0.1:1", "emulator_host", "127.0.0.1:1"),
        ("DATABASE_ROLE", "reader", "database_role", "reader"),
        ("LEAK_TIMEOUT", 2.5, "leak_timeout", 2.5),
        ("RPC_TIMEOUT", 3, "rpc_timeout", 3.0),
        ("MAX_SESSION_AGE", 86400, "max_session_age", 86400.0),
    ],
)
def test_good_values(key: str, value: Any, attr: str, expected: Any) -> None:
    assert getattr(build(**{key: value}), attr) == expected


def test_labels_are_copied_and_read_only() -> None:
    labels = {"env": "prod", "team": "web-1"}
    s = build(LABELS=labels)
    labels["env"] = "changed"
    assert dict(s.labels) == {"env": "prod", "team": "web-1"}
    with pytest.raises(TypeError):
        s.labels["x"] = "y"  # type: ignore[index]


def test_credentials_file(tmp_path: Path) -> None:
    key = tmp_path / "key.json"
    key.write_text("{}")
    s = build(CREDENTIALS=str(key))
    assert s.credentials == str(key)
    assert s.describe()["CREDENTIALS"] == "***"


def test_settings_are_immutable() -> None:
    s = build()
    with pytest.raises(AttributeError):
        s.pool_size = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("INSTANCE", None, "is required"),
        ("INSTANCE", "", "expected an ID"),
        ("INSTANCE", 5, "expected an ID"),
        ("INSTANCE", "Bad_Instance", "expected an ID"),
        ("DATABASE", None, "is required"),
        ("DATABASE", "1db", "expected an ID"),
        ("DATABASE", ["db"], "expected an ID"),
        ("PROJECT", 12, "non-empty string"),
        ("PROJECT", "  ", "non-empty string"),
        ("POOL", "fixed", "expected one of"),
        ("POOL", "PINGING", "expected one of"),
        ("POOL", 1, "expected one of"),
        ("POOL_SIZE", 0, "from 1 to 1000"),
        ("POOL_SIZE", -3, "from 1 to 1000"),
        ("POOL_SIZE", 1001, "from 1 to 1000"),
        ("POOL_SIZE", 2.5, "expected an integer"),
        ("POOL_SIZE", "10", "expected an integer"),
        ("POOL_SIZE", True, "expected an integer"),
        ("POOL_TIMEOUT", 0, "greater than 0"),
        ("POOL_TIMEOUT", -1, "greater than 0"),
        ("POOL_TIMEOUT", "5", "number of seconds"),
        ("POOL_TIMEOUT", float("nan"), "number of seconds"),
        ("POOL_TIMEOUT", False, "number of seconds"),
        ("PING_INTERVAL", 3600, "less than 3600"),
        ("PING_INTERVAL", 7200, "less than 3600"),
        ("PING_INTERVAL", 0, "greater than 0"),
        ("PING_INTERVAL", "300", "number of seconds"),
        ("EMULATOR_HOST", "http://localhost:9010", "host:port"),
        ("EMULATOR_HOST", "localhost", "host:port"),
        ("EMULATOR_HOST", 9010, "non-empty string"),
        ("DATABASE_ROLE", 3, "non-empty string"),
        ("LABELS", "env=prod", "dict of str to str"),
        ("LABELS", {"Env": "prod"}, "label key 'Env'"),
        ("LABELS", {"env": 1}, "label 'env' has value 1"),
        ("LABELS", {"env": "Prod"}, "label 'env' has value 'Prod'"),
        ("LABELS", {f"k{i}": "v" for i in range(62)}, "at most 61 labels"),
        ("CREDENTIALS", "/nonexistent/key.json", "no such file"),
        ("CREDENTIALS", 1, "non-empty string"),
        ("MAX_SESSION_AGE", 28 * 86400, "less than"),
        ("MAX_SESSION_AGE", 10, "greater than 300"),
        ("LEAK_TIMEOUT", 0, "greater than 0"),
        ("LEAK_TIMEOUT", "1", "number of seconds"),
        ("RPC_TIMEOUT", 0, "greater than 0"),
    ],
)
def test_bad_values_name_the_key_and_value(key: str, value: Any, fragment: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        build(**{key: value})
    message = str(info.value)
    assert message.startswith(key), message
    assert fragment in message
    assert info.value.key == key
    if value not in (None, "") and key != "MAX_SESSION_AGE":
        assert repr(value)[:20] in message or str(value) in message


def test_unknown_key_is_an_error() -> None:
    with pytest.raises(ConfigurationError, match=r"^POOL_SIZ: unknown setting") as info:
        build(POOL_SIZ=3)
    assert "POOL_SIZE" in str(info.value)


def test_key_format_names_the_key_as_written() -> None:
    with pytest.raises(ConfigurationError, match=r"^SPANNER_POOL_SIZE: expected an integer"):
        SpannerSettings.from_mapping({**BASE, "POOL_SIZE": "x"}, key_format="SPANNER_{key}")
    with pytest.raises(ConfigurationError, match=r"^SPANNER\['a'\]\['POOL'\]: expected one of"):
        SpannerSettings.from_mapping({**BASE, "POOL": "x"}, key_format="SPANNER['a']['{key}']")


def test_not_a_mapping() -> None:
    with pytest.raises(ConfigurationError, match="expected a mapping"):
        SpannerSettings.from_mapping(["INSTANCE"])  # type: ignore[arg-type]


def test_environment_fallbacks() -> None:
    values = {"INSTANCE": "inst", "DATABASE": "db1"}
    env = {"GOOGLE_CLOUD_PROJECT": "from-env", "SPANNER_EMULATOR_HOST": "localhost:9010"}
    s = SpannerSettings.from_mapping(values, environ=env)
    assert s.project == "from-env"
    assert s.emulator_host == "localhost:9010"
    # explicit settings win over the environment
    s = SpannerSettings.from_mapping({**values, "PROJECT": "mine"}, environ=env)
    assert s.project == "mine"


def test_bad_emulator_host_from_environment_is_reported() -> None:
    with pytest.raises(ConfigurationError, match="EMULATOR_HOST"):
        SpannerSettings.from_mapping(
            {"INSTANCE": "inst", "DATABASE": "db1", "PROJECT": "p"},
            environ={"SPANNER_EMULATOR_HOST": "http://x:1"},
        )


def test_emulator_needs_a_project() -> None:
    with pytest.raises(ConfigurationError, match=r"^PROJECT is required with the emulator"):
        SpannerSettings.from_mapping(
            {"INSTANCE": "inst", "DATABASE": "db1", "EMULATOR_HOST": "localhost:9010"}, environ={}
        )


def test_every_key_is_documented_in_describe() -> None:
    assert set(build().describe()) == SETTINGS_KEYS


def test_validation_and_manager_construction_touch_no_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("network used")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    settings = build(EMULATOR_HOST="localhost:9010")
    manager = PoolManager(settings)
    assert not manager.opened
    assert manager.stats()["opened"] is False
    manager.close()


def test_manager_rejects_a_plain_dict() -> None:
    with pytest.raises(TypeError, match="SpannerSettings.from_mapping"):
        PoolManager(BASE)  # type: ignore[arg-type]

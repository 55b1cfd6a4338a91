"""SpannerSettings: every key, good and bad; errors name the key; no network."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from spanner_pools import SETTINGS_KEYS, ConfigurationError, PoolManager, SpannerSettings
from spanner_pools.settings import RANGES, _settings_for_tests

BASE = {"PROJECT": "test-project", "INSTANCE": "inst", "DATABASE": "db1"}


def build(environ: dict[str, str] | None = None, **values: Any) -> SpannerSettings:
    return SpannerSettings.from_mapping({**BASE, **values}, environ=environ or {})


def test_defaults() -> None:
    s = build()
    assert (s.project, s.instance, s.database) == ("test-project", "inst", "db1")
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
        ("POOL_TIMEOUT", 0.01, "pool_timeout", 0.01),
        ("POOL_TIMEOUT", 3600, "pool_timeout", 3600.0),
        ("PING_INTERVAL", 1, "ping_interval", 1.0),
        ("PING_INTERVAL", 3599, "ping_interval", 3599.0),
        ("EMULATOR_HOST", "localhost:9010", "emulator_host", "localhost:9010"),
        ("EMULATOR_HOST", "127.0.0.1:1", "emulator_host", "127.0.0.1:1"),
        ("DATABASE_ROLE", "reader", "database_role", "reader"),
        ("LEAK_TIMEOUT", 1, "leak_timeout", 1.0),
        ("LEAK_TIMEOUT", 2.5, "leak_timeout", 2.5),
        ("LEAK_TIMEOUT", 28 * 86400, "leak_timeout", 28 * 86400.0),
        ("RPC_TIMEOUT", 1, "rpc_timeout", 1.0),
        ("RPC_TIMEOUT", 3599, "rpc_timeout", 3599.0),
        ("MAX_SESSION_AGE", 3600, "max_session_age", 3600.0),
        ("MAX_SESSION_AGE", 28 * 86400 - 1, "max_session_age", 28 * 86400.0 - 1),
        ("PROJECT", "my-project", "project", "my-project"),
        ("PROJECT", "a12345", "project", "a12345"),
        ("PROJECT", "a" * 30, "project", "a" * 30),
        ("PROJECT", "example.com:my-project", "project", "example.com:my-project"),
        ("DATABASE_ROLE", "Reader_2", "database_role", "Reader_2"),
        ("EMULATOR_HOST", "[::1]:9010", "emulator_host", "[::1]:9010"),
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
        ("POOL_TIMEOUT", 0, "from 0.01 to 1 hour (3600 s)"),
        ("POOL_TIMEOUT", -1, "from 0.01 to 1 hour (3600 s)"),
        ("POOL_TIMEOUT", 0.001, "from 0.01 to 1 hour (3600 s)"),
        ("POOL_TIMEOUT", 3601, "from 0.01 to 1 hour (3600 s)"),
        ("POOL_TIMEOUT", "5", "number of seconds"),
        ("POOL_TIMEOUT", float("nan"), "number of seconds"),
        ("POOL_TIMEOUT", False, "number of seconds"),
        ("PING_INTERVAL", 3600, "expected a number of seconds from 1 to 3599"),
        ("PING_INTERVAL", 7200, "from 1 to 3599"),
        ("PING_INTERVAL", 0, "from 1 to 3599"),
        ("PING_INTERVAL", 0.001, "from 1 to 3599"),  # 355 pings a second
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
        ("CREDENTIALS", 1, "expected the path of a service-account JSON key file"),
        ("MAX_SESSION_AGE", 28 * 86400, "from 1 hour (3600 s) to under 28 days (2419200 s)"),
        ("MAX_SESSION_AGE", 0.002, "from 1 hour (3600 s) to under 28 days (2419200 s)"),
        ("MAX_SESSION_AGE", 3599, "from 1 hour (3600 s)"),
        ("MAX_SESSION_AGE", 10, "from 1 hour (3600 s)"),
        ("LEAK_TIMEOUT", 0, "from 1 to 28 days (2419200 s)"),
        ("LEAK_TIMEOUT", 1e10, "from 1 to 28 days (2419200 s)"),  # OverflowError in wait()
        ("LEAK_TIMEOUT", 0.5, "from 1 to 28 days"),
        ("LEAK_TIMEOUT", "1", "number of seconds"),
        ("RPC_TIMEOUT", 0, "from 1 to 3599"),
        ("RPC_TIMEOUT", 1e-4, "from 1 to 3599"),
        ("RPC_TIMEOUT", 3600, "from 1 to 3599"),
        # A final newline passes ``re.match(r"...$")``; every ID and string is matched whole.
        ("INSTANCE", "inst\n", "expected an ID"),
        ("INSTANCE", " inst", "expected an ID"),
        ("DATABASE", "db1\n", "expected an ID"),
        ("DATABASE", "db\t1", "expected an ID"),
        ("EMULATOR_HOST", "localhost:9010\n", "host:port"),
        ("EMULATOR_HOST", "localhost:9010 ", "host:port"),
        ("EMULATOR_HOST", "localhost:0", "host:port"),
        ("EMULATOR_HOST", "localhost:70000", "host:port"),
        ("DATABASE_ROLE", "reader\n", "expected a role name"),
        ("DATABASE_ROLE", "read er", "expected a role name"),
        ("DATABASE_ROLE", "1reader", "expected a role name"),
        ("LABELS", {"env\n": "prod"}, "label key 'env\\n'"),
        ("LABELS", {"env": "prod\n"}, "label 'env' has value 'prod\\n'"),
        ("PROJECT", "p1", "expected a Google Cloud project ID of 6-30"),
        ("PROJECT", "test-project\n", "project ID"),
        ("PROJECT", "my-project-", "not ending with '-'"),
        ("PROJECT", "My-Project", "project ID"),
        ("PROJECT", "1project", "starting with a letter"),
        ("PROJECT", "a" * 31, "project ID"),
        ("PROJECT", "example.com:my-project\n", "project ID"),
        ("CREDENTIALS", "/tmp/key.json\n", "surrounding whitespace"),
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


def test_problems_lists_every_bad_key_in_one_pass() -> None:
    values = {
        "PROJECT": "test-project",
        "DATABASE": "Bad DB",
        "POOL": "nope",
        "POOL_SIZE": 0,
        "RPC_TIMEOUT": "soon",
        "SIZE": 3,
    }
    problems = SpannerSettings.problems(values, key_format="SPANNER_{key}", environ={})
    keys = [p.key for p in problems]
    assert keys == [
        "SPANNER_SIZE",
        "SPANNER_INSTANCE",
        "SPANNER_DATABASE",
        "SPANNER_POOL",
        "SPANNER_POOL_SIZE",
        "SPANNER_RPC_TIMEOUT",
    ]
    assert "SPANNER_INSTANCE is required" in str(problems[1])
    with pytest.raises(ConfigurationError) as info:  # from_mapping raises the first one
        SpannerSettings.from_mapping(values, key_format="SPANNER_{key}", environ={})
    assert str(info.value) == str(problems[0])
    assert SpannerSettings.problems(BASE, environ={}) == []
    # A bad PROJECT is not also "required with the emulator", nor replaced by the env var.
    bad_project = {**BASE, "PROJECT": "", "EMULATOR_HOST": "localhost:9010"}
    env = {"GOOGLE_CLOUD_PROJECT": "env-project"}
    assert [p.key for p in SpannerSettings.problems(bad_project, environ=env)] == ["PROJECT"]


#: A fake private key (not a real one): what must never appear in any message.
SECRET = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7fakefakefake"
KEY_FILE_CONTENTS = json.dumps(
    {
        "type": "service_account",
        "project_id": "test-project",
        "private_key_id": "0123456789abcdef",
        "private_key": f"-----BEGIN PRIVATE KEY-----\n{SECRET}\n-----END PRIVATE KEY-----\n",
        "client_email": "app@test-project.iam.gserviceaccount.com",
    },
    indent=2,
)


def assert_secret_hidden(error: ConfigurationError) -> None:
    """The key appears nowhere in the exception: str, repr, args, ``.value``."""
    for text in (str(error), repr(error), repr(error.args), repr(error.value), repr(vars(error))):
        assert SECRET not in text and "BEGIN PRIVATE" not in text, text


@pytest.mark.parametrize(
    "value",
    [
        KEY_FILE_CONTENTS,
        json.dumps(json.loads(KEY_FILE_CONTENTS)),  # on one line
        json.loads(KEY_FILE_CONTENTS),  # the parsed dict
        f"-----BEGIN PRIVATE KEY-----\n{SECRET}\n-----END PRIVATE KEY-----",  # the PEM alone
        "x" * 2000,  # far longer than a path
        "line one\nline two",
    ],
    ids=["json", "json-one-line", "dict", "pem", "long", "lines"],
)
def test_credentials_contents_instead_of_path_are_named_and_never_shown(value: Any) -> None:
    with pytest.raises(ConfigurationError) as info:
        build(CREDENTIALS=value)
    assert_secret_hidden(info.value)
    assert info.value.key == "CREDENTIALS"
    assert info.value.value is None
    message = str(info.value)
    assert message.startswith("CREDENTIALS: "), message
    assert "looks like the contents of a service-account key" in message, message
    assert "not the path" in message, message
    assert str(value)[:20] not in message


def test_a_key_in_another_setting_is_not_shown_either() -> None:
    """Wherever the key lands (an unknown key, a label, the wrong setting), it is not shown."""
    for values in (
        {"CREDENTIAL": KEY_FILE_CONTENTS},
        {"LABELS": {"key": KEY_FILE_CONTENTS}},
        {"DATABASE_ROLE": KEY_FILE_CONTENTS},
        {"EMULATOR_HOST": KEY_FILE_CONTENTS},
    ):
        with pytest.raises(ConfigurationError) as info:
            build(**values)
        assert_secret_hidden(info.value)


def test_project_from_the_environment_is_validated() -> None:
    with pytest.raises(ConfigurationError, match="GOOGLE_CLOUD_PROJECT") as info:
        SpannerSettings.from_mapping(
            {"INSTANCE": "inst", "DATABASE": "db1"}, environ={"GOOGLE_CLOUD_PROJECT": "proj\n"}
        )
    assert info.value.key == "PROJECT"


def test_ranges_are_stated_in_human_units_never_in_exponent_form() -> None:
    for key, value in [("MAX_SESSION_AGE", 1e10), ("LEAK_TIMEOUT", 1e10), ("POOL_TIMEOUT", 1e9)]:
        with pytest.raises(ConfigurationError) as info:
            build(**{key: value})
        bounds = str(info.value).split(", got ")[0]
        assert "e+" not in bounds, bounds
    with pytest.raises(ConfigurationError, match=r"to under 28 days \(2419200 s\)"):
        build(MAX_SESSION_AGE=1e10)


def test_test_only_path_lowers_only_the_minimums() -> None:
    """``_settings_for_tests`` (tests/conftest.py ``make_manager``) takes sub-second durations
    that users cannot set; every other rule stays."""
    s = _settings_for_tests(
        {**BASE, "PING_INTERVAL": 0.2, "MAX_SESSION_AGE": 0.5, "RPC_TIMEOUT": 0.2}, environ={}
    )
    assert (s.ping_interval, s.max_session_age, s.rpc_timeout) == (0.2, 0.5, 0.2)
    for key, value in [("PING_INTERVAL", 0.2), ("MAX_SESSION_AGE", 0.5), ("RPC_TIMEOUT", 0.2)]:
        with pytest.raises(ConfigurationError):
            build(**{key: value})
    for values in (
        {"PING_INTERVAL": 0},
        {"PING_INTERVAL": 3600},
        {"LEAK_TIMEOUT": 1e10},
        {"PING_INTERVAL": 0.5, "MAX_SESSION_AGE": 0.4},
        {"DATABASE": "db1\n"},
    ):
        with pytest.raises(ConfigurationError):
            _settings_for_tests({**BASE, **values}, environ={})
    with pytest.raises(ConfigurationError, match="more seconds than PING_INTERVAL"):
        _settings_for_tests({**BASE, "PING_INTERVAL": 0.5, "MAX_SESSION_AGE": 0.5}, environ={})


def test_readme_states_every_range() -> None:
    """The README's settings table states the range each duration key is checked against."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    rows = {
        line.split("|")[1].strip(): line for line in readme.splitlines() if line.startswith("| `")
    }
    for key, allowed in RANGES.items():
        row = next(line for name, line in rows.items() if f"`{key}`" in name)
        assert allowed.text() in row, (key, allowed.text(), row)


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
    env = {"GOOGLE_CLOUD_PROJECT": "from-env-1", "SPANNER_EMULATOR_HOST": "localhost:9010"}
    s = SpannerSettings.from_mapping(values, environ=env)
    assert s.project == "from-env-1"
    assert s.emulator_host == "localhost:9010"
    # explicit settings win over the environment
    s = SpannerSettings.from_mapping({**values, "PROJECT": "mine-1"}, environ=env)
    assert s.project == "mine-1"


def test_bad_emulator_host_from_environment_is_reported() -> None:
    with pytest.raises(ConfigurationError, match="EMULATOR_HOST"):
        SpannerSettings.from_mapping(
            {"INSTANCE": "inst", "DATABASE": "db1", "PROJECT": "test-project"},
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

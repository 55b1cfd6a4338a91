"""Scenario 6: bad input.

* Every setting with a wrong type or range, an unknown key, an unknown pool mode: Flask's
  ``SPANNER_*`` config and Django's ``SPANNER`` setting fail at start-up with an error that
  names the key as the user wrote it and the bad value, and nothing touches the network
  (socket connects and gRPC channel creation are refused during these tests).
* gunicorn serving the example site with a bad setting exits, and its log names the key.
* Errors inside a request (bad SQL, a transaction whose code raises, a transaction aborted
  past its retry deadline) return the session to the pool and leave it usable: the stats
  prove it, and the following requests succeed on the same sessions.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from spanner_pools import ConfigurationError
from tests.conftest import INSTANCE, PROJECT
from tests.e2e import GunicornServer, hammer, request, writes

from .harness import (
    Admin,
    example_server,
    failures,
    sessions_by_worker,
    tail,
)

#: (key, bad value): wrong type, out of range, bad format, unknown pool mode.
BAD_VALUES: list[tuple[str, Any]] = [
    ("PROJECT", 42),
    ("INSTANCE", "Bad_Instance"),
    ("INSTANCE", 7),
    ("DATABASE", "9lives"),
    ("DATABASE", ["db"]),
    ("POOL", "fixed"),  # no such pool mode
    ("POOL", 1),
    ("POOL_SIZE", 0),
    ("POOL_SIZE", 1001),
    ("POOL_SIZE", 2.5),
    ("POOL_SIZE", True),
    ("POOL_TIMEOUT", -1),
    ("POOL_TIMEOUT", 0),
    ("PING_INTERVAL", 0),
    ("PING_INTERVAL", 3600),
    ("EMULATOR_HOST", "http://localhost:9010"),
    ("EMULATOR_HOST", 9010),
    ("DATABASE_ROLE", 5),
    ("DATABASE_ROLE", "   "),
    ("LABELS", {"Team": "web"}),
    ("LABELS", {"team": 1}),
    ("LABELS", ["team"]),
    ("CREDENTIALS", "/nonexistent/key.json"),
    ("CREDENTIALS", 3),
    ("MAX_SESSION_AGE", 0),
    ("MAX_SESSION_AGE", 30 * 24 * 3600),  # beyond the server's 28 days
    ("MAX_SESSION_AGE", 10),  # below PING_INTERVAL (300)
    ("LEAK_TIMEOUT", -5),
    ("RPC_TIMEOUT", 0),
    ("RPC_TIMEOUT", 3600),
    # Values that used to pass and then never worked (issue 12, item 9).
    ("PROJECT", "p1"),  # not a project ID: 6-30 characters
    ("PROJECT", f"{PROJECT}\n"),  # a trailing newline, e.g. from an env file
    ("INSTANCE", f"{INSTANCE}\n"),
    ("DATABASE", "db1\n"),
    ("EMULATOR_HOST", "localhost:9010\n"),
    ("DATABASE_ROLE", "reader\n"),
    ("LABELS", {"team\n": "web"}),
    ("LABELS", {"team": "web\n"}),
    ("PING_INTERVAL", 0.001),  # 355 pings a second
    ("MAX_SESSION_AGE", 0.002),
    ("RPC_TIMEOUT", 1e-4),
    ("LEAK_TIMEOUT", 1e10),  # killed the watcher thread with OverflowError
]

#: Flask reads env-var strings too: strings that are not what the key needs.
BAD_STRINGS: list[tuple[str, str]] = [
    ("POOL_SIZE", "ten"),
    ("POOL_TIMEOUT", "soon"),
    ("PING_INTERVAL", "nan"),
    ("LEAK_TIMEOUT", "never"),
    ("RPC_TIMEOUT", "fast"),
    ("LABELS", "team=web"),
]

BASE = {"PROJECT": PROJECT, "INSTANCE": INSTANCE, "DATABASE": "db1"}


def _case_id(case: tuple[str, Any]) -> str:
    return f"{case[0]}={case[1]!r}"


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Refuse (and record) every socket connect and every gRPC channel creation."""
    import grpc

    attempts: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args)
        raise AssertionError(f"network touched: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(grpc, "insecure_channel", refuse)
    monkeypatch.setattr(grpc, "secure_channel", refuse)
    yield attempts
    assert attempts == [], "validation touched the network"


# -- Flask -----------------------------------------------------------------------------------


def _flask_init(config: dict[str, Any]) -> None:
    from flask import Flask

    from flask_ext import Spanner

    app = Flask("bad_input")
    app.config.update(config)
    Spanner(app)


@pytest.mark.parametrize("case", BAD_VALUES + BAD_STRINGS, ids=_case_id)
def test_flask_bad_value_names_key_and_value(case: tuple[str, Any], no_network: list[Any]) -> None:
    key, value = case
    config = {f"SPANNER_{k}": v for k, v in BASE.items()}
    config[f"SPANNER_{key}"] = value
    with pytest.raises(ConfigurationError) as caught:
        _flask_init(config)
    message = str(caught.value)
    assert caught.value.key == f"SPANNER_{key}", message
    assert message.startswith(f"SPANNER_{key}"), message
    assert repr(value) in message, message


@pytest.mark.parametrize(
    ("config", "key", "words"),
    [
        ({"SPANNER_POOL_SIZ": 3}, "SPANNER_POOL_SIZ", "did you mean SPANNER_POOL_SIZE"),
        ({"SPANNER_TIMEOUT": 3}, "SPANNER_TIMEOUT", "unknown setting"),
        ({"SPANNER_INSTANCE": None}, "SPANNER_INSTANCE", "is required"),
        ({"SPANNER_DATABASE": None}, "SPANNER_DATABASE", "is required"),
    ],
    ids=["typo", "unknown", "no-instance", "no-database"],
)
def test_flask_unknown_or_missing_key(
    config: dict[str, Any], key: str, words: str, no_network: list[Any]
) -> None:
    full = {f"SPANNER_{k}": v for k, v in BASE.items()}
    full.update(config)
    with pytest.raises(ConfigurationError) as caught:
        _flask_init(full)
    assert caught.value.key == key
    assert str(caught.value).startswith(key) and words in str(caught.value), str(caught.value)


# -- Django ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def django_ready() -> None:
    """Django with the test project's settings (as tests/django does); tests override
    ``SPANNER`` with ``override_settings``."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.django.project.settings")
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()


def _django_error(spanner: Any) -> str:
    """The error ``django_app.pools`` raises for ``SPANNER=spanner``, and what the system
    check reports (every problem); both must name the key."""
    from django.core.exceptions import ImproperlyConfigured
    from django.test import override_settings

    from django_app import pools
    from django_app.checks import check_settings

    with override_settings(SPANNER=spanner):
        with pytest.raises(ImproperlyConfigured) as caught:
            pools["default"]
        checks = [str(error.msg) for error in check_settings()]
    assert checks, "the system check found nothing"
    return f"{caught.value}\n" + "\n".join(checks)


@pytest.mark.parametrize("case", BAD_VALUES, ids=_case_id)
def test_django_bad_value_names_key_and_value(
    case: tuple[str, Any], django_ready: None, no_network: list[Any]
) -> None:
    key, value = case
    message = _django_error({"default": {**BASE, key: value}})
    first = message.splitlines()[0]
    assert first.startswith(f"SPANNER['default']['{key}']"), message
    assert repr(value) in first, message


@pytest.mark.parametrize(
    ("spanner", "name"),
    [
        ({"default": {**BASE, "POOL_SIZ": 3}}, "SPANNER['default']['POOL_SIZ']"),
        ({"default": {**BASE, "INSTANCE": None}}, "SPANNER['default']['INSTANCE']"),
        ({"replica": BASE}, "'default'"),
        ({**BASE}, "SPANNER"),
    ],
    ids=["unknown-key", "missing-key", "no-default-alias", "not-nested"],
)
def test_django_unknown_or_missing(
    spanner: Any, name: str, django_ready: None, no_network: list[Any]
) -> None:
    assert name in _django_error(spanner)


def test_django_unknown_alias_is_named(django_ready: None, no_network: list[Any]) -> None:
    from django.test import override_settings

    from django_app import pools
    from django_app.sessions import PoolDoesNotExist

    with override_settings(SPANNER={"default": BASE}), pytest.raises(PoolDoesNotExist) as caught:
        pools["replica"]
    assert "'replica'" in str(caught.value) and "'default'" in str(caught.value)


# -- a key file's contents as CREDENTIALS ----------------------------------------------------

#: A fake private key (not a real one): it must appear in no message, check or log.
SECRET = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDfakekeymaterial"
KEY_FILE_CONTENTS = (
    '{\n  "type": "service_account",\n  "project_id": "test-project",\n'
    '  "private_key": "-----BEGIN PRIVATE KEY-----\\n'
    + SECRET
    + '\\n-----END PRIVATE KEY-----\\n",\n'
    '  "client_email": "app@test-project.iam.gserviceaccount.com"\n}\n'
)
CONTENTS_WORDS = "looks like the contents of a service-account key"


def _assert_no_secret(*texts: object) -> None:
    for text in texts:
        assert SECRET not in str(text) and "BEGIN PRIVATE" not in str(text), str(text)[-2000:]


def test_flask_credentials_contents_are_refused_and_never_shown(no_network: list[Any]) -> None:
    config = {f"SPANNER_{k}": v for k, v in BASE.items()}
    config["SPANNER_CREDENTIALS"] = KEY_FILE_CONTENTS
    with pytest.raises(ConfigurationError) as caught:
        _flask_init(config)
    error = caught.value
    assert str(error).startswith("SPANNER_CREDENTIALS: the value " + CONTENTS_WORDS), str(error)
    assert error.value is None
    _assert_no_secret(str(error), repr(error), error.args, error.value, vars(error))


def test_django_check_e008_names_credentials_contents_without_showing_them(
    django_ready: None, no_network: list[Any]
) -> None:
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError
    from django.test import override_settings

    from django_app.checks import check_settings

    spanner = {"default": {**BASE, "CREDENTIALS": KEY_FILE_CONTENTS}}
    message = _django_error(spanner)
    assert CONTENTS_WORDS in message, message
    with override_settings(SPANNER=spanner):
        errors = check_settings()
        assert [e.id for e in errors] == ["spanner_pools.E008"], errors
        with pytest.raises(SystemCheckError) as caught:  # what `manage.py check` prints
            call_command("check", tags=["spanner_pools"])
    assert CONTENTS_WORDS in str(caught.value)
    _assert_no_secret(message, errors, [vars(e) for e in errors], caught.value)


@pytest.mark.e2e
def test_gunicorn_worker_boot_error_does_not_print_credentials(figures: dict[str, Any]) -> None:
    """The example site with the key's JSON in SPANNER_CREDENTIALS: the worker fails to boot,
    gunicorn exits, and its log says what is wrong without a byte of the key."""
    server = example_server("127.0.0.1:1", "db1", settings={"CREDENTIALS": KEY_FILE_CONTENTS})
    code, log = _run_to_exit(server)
    figures.update(exit_status=code)
    assert code != 0, log[-3000:]
    assert "SPANNER_CREDENTIALS: the value " + CONTENTS_WORDS in log, log[-3000:]
    _assert_no_secret(log)


# -- gunicorn with a bad setting -------------------------------------------------------------


def _run_to_exit(server: GunicornServer, timeout: float = 60.0) -> tuple[int, str]:
    """Run the server's command until it exits by itself (bounded); its status and log."""
    with open(server.log_path, "ab") as log:
        process = subprocess.Popen(
            server.args, env=server.env, cwd=server.cwd, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        code = process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.terminate()
        process.wait(30)
        raise AssertionError(f"gunicorn kept running with a bad setting:\n{tail(server)}") from None
    return code, server.log()


@pytest.mark.e2e
@pytest.mark.parametrize("preload", [False, True], ids=["no-preload", "preload"])
def test_gunicorn_flask_exits_naming_the_key(preload: bool, figures: dict[str, Any]) -> None:
    server = example_server("127.0.0.1:1", "db1", settings={"POOL_SIZE": 0}, preload=preload)
    code, log = _run_to_exit(server)
    figures.update(exit_status=code)
    assert code != 0, log[-3000:]
    assert "SPANNER_POOL_SIZE: expected an integer from 1 to 1000, got 0" in log, log[-3000:]


@pytest.mark.e2e
@pytest.mark.parametrize("preload", [False, True], ids=["no-preload", "preload"])
def test_gunicorn_django_exits_naming_the_key(preload: bool, figures: dict[str, Any]) -> None:
    """Workers that fail to boot make the master exit; how long that takes depends on the
    machine's load, so the wait is the generous no-hang bound of ``_run_to_exit`` (it used
    to be 5 s, which a loaded machine exceeded once: "kept running", /health unanswered)."""
    server = example_server(
        "127.0.0.1:1",
        "db1",
        settings={"POOL_SIZE": 0},
        preload=preload,
        # Set here: an in-process Django test may have set it in os.environ already.
        env={"DJANGO_SETTINGS_MODULE": "example_site.django_site.settings"},
    )
    server.args[-1] = "example_site.django_site.wsgi:application"  # the Django site
    code, log = _run_to_exit(server)
    figures.update(exit_status=code)
    assert code != 0, log[-3000:]
    assert "SPANNER['default']['POOL_SIZE']: expected an integer from 1 to 1000, got 0" in log, log[
        -3000:
    ]


# -- errors inside requests ------------------------------------------------------------------

POOL_SIZE = 2
ROUNDS = 15


@pytest.mark.e2e
def test_request_errors_return_the_session_unpoisoned(
    admin: Admin,
    probe_db: str,
    probe_site: Callable[..., GunicornServer],
    figures: dict[str, Any],
) -> None:
    """One worker (so ``/stats`` covers every request), two threads, POOL_SIZE=2."""
    server = probe_site(settings={"POOL_SIZE": POOL_SIZE}, workers=1, threads=2)
    calls: list[tuple[str, str, Any]] = []
    for i in range(ROUNDS):
        calls += [
            ("GET", "/sqlerror", None),
            ("POST", f"/txerror?id=rolled-back-{i}", None),
            ("POST", "/txabort", None),
            ("POST", f"/write?id=kept-{i}", None),
        ]
    responses = hammer(server.port, calls, concurrency=2, one_at_a_time=writes)
    expected = {"/sqlerror": 500, "/txerror": 500, "/txabort": 500, "/write": 200}
    wrong = [
        f"{path} -> {r.status}: {r.body[:200]!r}"
        for (_, path, _), r in zip(calls, responses, strict=True)
        if r.status != expected[path.split("?")[0]]
    ]
    after = hammer(
        server.port, [("POST", "/write", None)] * 20, concurrency=2, one_at_a_time=writes
    )
    stats = request(server.port, "GET", "/stats").json()
    kept = admin.count_rows(probe_db, "SELECT COUNT(*) FROM notes WHERE id LIKE 'kept-%'")
    rolled_back = admin.count_rows(probe_db, "SELECT COUNT(*) FROM notes WHERE id LIKE 'rolled%'")
    code = server.stop()
    sessions_used = sessions_by_worker([*responses, *after])
    figures.update(
        requests=len(calls) + len(after),
        sql_errors=ROUNDS,
        failed_transactions=ROUNDS,
        aborted_transactions=ROUNDS,
        unexpected_statuses=len(wrong),
        failures_after=len(failures(after)),
        in_use=stats["in_use"],
        checkouts=stats["checkouts"],
        sessions_replaced=stats["sessions_replaced"],
        sessions_left_after_stop=len(admin.session_names(probe_db)),
    )
    assert wrong == [], f"{wrong[:3]}\n{tail(server)}"
    assert failures(after) == [], tail(server)
    assert stats["in_use"] == 0, stats
    assert stats["sessions"] == POOL_SIZE and stats["available"] == POOL_SIZE, stats
    assert stats["checkouts"] == len(calls) + len(after), stats  # one per request, all back
    assert stats["sessions_created"] == POOL_SIZE and stats["sessions_replaced"] == 0, stats
    assert [len(ids) for ids in sessions_used.values()] == [POOL_SIZE], sessions_used
    assert kept == ROUNDS and rolled_back == 0
    assert code == 0, tail(server)
    assert admin.session_names(probe_db) == []

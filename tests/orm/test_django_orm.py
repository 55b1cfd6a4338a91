"""The Django ORM on ``"ENGINE": "django_app.db"``: migrate, CRUD with generated primary keys,
a transaction that aborts and is retried, and requests at CONN_MAX_AGE 0, N and None; then
under ``gunicorn --preload -w 3 --threads 2`` (see load.py).

Django is configured once per process (tests/django configures it for its own project), so
each scenario runs in a fresh process: tests/orm/djproject/scenarios.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from spanner_pools.emulator import _REQUEST_RE, Emulator
from tests.conftest import INSTANCE, PROJECT
from tests.e2e import ROOT, GunicornServer
from tests.reliability.harness import Admin, fair_args

from . import load

SESSION_RPCS = {"Spanner.CreateSession", "Spanner.BatchCreateSessions", "Spanner.DeleteSession"}


@pytest.fixture
def django_db(admin: Admin) -> Iterator[str]:
    """An empty database: the tables come from ``manage.py migrate``."""
    name = admin.create_database([], prefix="dj")
    yield name
    admin.drop(name)


def django_env(emulator: Emulator, database: str, **extra: str) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "tests.orm.djproject.settings",
        "ORM_SPANNER_PROJECT": PROJECT,
        "ORM_SPANNER_INSTANCE": INSTANCE,
        "ORM_SPANNER_DATABASE": database,
        "ORM_SPANNER_EMULATOR_HOST": emulator.host,
        "ORM_SPANNER_POOL_SIZE": str(load.POOL_SIZE),
        "ORM_EMULATOR_LOG": str(emulator.log_path),
        "SPANNER_DISABLE_BUILTIN_METRICS": "true",
        "PYTHONPATH": str(ROOT),
        **extra,
    }


def between(emulator: Emulator, start: int, end: int) -> Counter[str]:
    """RPCs the emulator logged between two offsets of its log."""
    with open(emulator.log_path, "rb") as log:
        log.seek(start)
        text = log.read(end - start).decode(errors="replace")
    return Counter(f"{m.group(1)}.{m.group(2)}" for m in _REQUEST_RE.finditer(text))


def run_django(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, *args],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_manage_py_migrate_through_the_backend(
    emulator: Emulator, admin: Admin, django_db: str
) -> None:
    env = django_env(emulator, django_db)
    done = run_django(env, "-m", "django", "migrate", "--noinput")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Applying notes.0001_initial... OK" in done.stdout, done.stdout
    shown = run_django(env, "-m", "django", "showmigrations", "notes")
    assert "[X] 0001_initial" in shown.stdout, shown.stdout + shown.stderr[-3000:]
    assert admin.count_rows(django_db, "SELECT COUNT(*) FROM notes_note") == 0
    assert admin.session_names(django_db) == []  # the command deleted its sessions at exit


@pytest.mark.parametrize(
    ("max_age", "alias"), [("0", "default"), ("5", "main"), ("none", "default")]
)
def test_orm_requests_at_every_conn_max_age(
    max_age: str, alias: str, emulator: Emulator, admin: Admin, django_db: str
) -> None:
    env = django_env(emulator, django_db, ORM_CONN_MAX_AGE=max_age, ORM_SPANNER_ALIAS=alias)
    done = run_django(env, "-m", "tests.orm.djproject.scenarios")
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])

    crud = report["crud"]
    assert crud["read"] == "uno" and crud["remaining"] == ["uno"]
    # django-google-spanner's generated keys: random positive int64s, not 1, 2, ...
    assert all(isinstance(pk, int) and pk > 2**32 for pk in crud["pks"]), crud["pks"]

    requests = report["requests"]
    assert requests["statuses"] == [200, 201]
    assert requests["count"] == 30
    assert requests["threads"][1] == requests["threads"][0]  # no thread left per request
    # Django closes the connection after each request only at CONN_MAX_AGE=0.
    assert requests["connection_open_after_request"] is (max_age != "0")
    write = between(emulator, requests["write_start"], requests["write_end"])
    read = between(emulator, requests["read_start"], requests["read_end"])
    assert write == {"Spanner.ExecuteStreamingSql": 1, "Spanner.Commit": 1}, write
    assert read == {"Spanner.ExecuteStreamingSql": 1}, read

    abort = report["abort"]
    assert abort["errors"] == []
    assert abort["bodies"] == ["first", "second"]
    assert between(emulator, abort["start"], abort["end"])["Spanner.Commit"] >= 3  # a replay

    stats = report["stats"]
    assert stats["alias"] == alias
    assert stats["in_use"] == 0
    assert stats["sessions_created"] == load.POOL_SIZE  # never a session per connection
    assert stats["checkouts"] >= 60  # the ORM's sessions were lent through the manager
    assert admin.session_names(django_db) == []  # deleted when the process exited


@pytest.mark.e2e
@pytest.mark.parametrize("max_age", ["0", "none"])
def test_django_orm_preload_load(
    max_age: str, emulator: Emulator, admin: Admin, django_db: str
) -> None:
    env = django_env(emulator, django_db)
    migrated = run_django(env, "-m", "django", "migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    server = GunicornServer(
        "tests.orm.djproject.wsgi:application",
        workers=load.WORKERS,
        threads=load.THREADS,
        preload=True,
        env={**env, "ORM_CONN_MAX_AGE": max_age, "ORM_QUERY_AT_IMPORT": "1"},
        extra_args=fair_args(load.THREADS),
    )
    figures: dict[str, Any] = {}
    try:
        load.run_load(
            server,
            admin,
            django_db,
            figures,
            write=("POST", "/notes/"),
            read=("GET", "/notes/"),
            count_sql="SELECT COUNT(*) FROM notes_note",
            stats_path="/stats/",
            health_path="/health/",
        )
    finally:
        server.stop()
        print("figures:", figures)


CONNECT = (
    "import django; django.setup(); from django.db import connection; "
    "connection.ensure_connection()"
)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"SPANNER_ALIAS": "nope"}, "settings.SPANNER has no alias 'nope'"),
        ({"SPANNER_ALIAS": 3}, "['OPTIONS']['SPANNER_ALIAS'] must be a string, got 3"),
        ({"pool": "x"}, "['OPTIONS']['pool'] is not used with ENGINE \"django_app.db\""),
    ],
)
def test_bad_options_name_the_setting(
    options: dict[str, Any], message: str, emulator: Emulator
) -> None:
    env = django_env(emulator, "unused", ORM_DB_OPTIONS=json.dumps(options))
    done = run_django(env, "-c", CONNECT)
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr and message in done.stderr, done.stderr[-2000:]

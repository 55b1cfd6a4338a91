"""``TEST_RUNNER = "django_app.test.SpannerDiscoverRunner"``: a real ``manage.py test`` run
(in a subprocess, with its own small project) against the emulator."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from django_app.test import setup_spanner_databases
from spanner_pools.emulator import Emulator, admin_client, drop_database, provision
from spanner_pools.testing import name_for_tests
from tests.conftest import INSTANCE, PROJECT

ROOT = Path(__file__).resolve().parents[2]
NOTES = "CREATE TABLE notes (id STRING(64) NOT NULL, body STRING(MAX)) PRIMARY KEY (id)"
EVENTS = "CREATE TABLE events (id STRING(64) NOT NULL) PRIMARY KEY (id)"

SETTINGS = """
SECRET_KEY = "runner-test"
INSTALLED_APPS = ["django_app"]
DATABASES = {{}}
USE_TZ = True
TEST_RUNNER = "django_app.test.SpannerDiscoverRunner"
_BASE = {{"PROJECT": {project!r}, "INSTANCE": {instance!r}, "EMULATOR_HOST": {host!r}, "POOL_SIZE": 1}}
SPANNER = {{
    "default": {{**_BASE, "DATABASE": {app!r}}},
    "mirror": {{**_BASE, "DATABASE": {app!r}}},
    "analytics": {{**_BASE, "DATABASE": {long!r}}},
}}
SPANNER_TEST_DDL = {{"default": [{notes!r}], "analytics": [{events!r}]}}
"""

TESTS = """
from django.conf import settings
from django.test import SimpleTestCase

from django_app import pools


class RunnerTest(SimpleTestCase):
    def test_settings_point_at_the_test_databases(self):
        assert settings.SPANNER["default"]["DATABASE"] == {test_app!r}
        assert settings.SPANNER["mirror"]["DATABASE"] == {test_app!r}
        assert settings.SPANNER["analytics"]["DATABASE"] == {test_long!r}
        with pools["default"].handle() as s:
            assert s.execute_sql("SELECT COUNT(*) FROM notes") == [[0]]
            with s.batch() as batch:
                batch.insert("notes", ["id", "body"], [["n1", "from the test"]])
        with pools["mirror"].handle() as s:
            assert s.execute_sql("SELECT body FROM notes") == [["from the test"]]
        with pools["analytics"].handle() as s:
            assert s.execute_sql("SELECT COUNT(*) FROM events") == [[0]]
"""


def _databases(host: str) -> set[str]:
    with admin_client(host, PROJECT) as client:
        return {d.name.rsplit("/", 1)[-1] for d in client.instance(INSTANCE).list_databases()}


def test_name_for_tests_fits_spanner_ids() -> None:
    assert name_for_tests("app") == "test_app"
    long = name_for_tests("a" * 24 + "_-bcdef")  # cut inside the "_-": no trailing separator
    assert long == "test_" + "a" * 24 and len(long) <= 30
    assert len(name_for_tests("x" * 30)) == 30


def test_bad_test_ddl_setting_is_named() -> None:
    with (
        override_settings(SPANNER_TEST_DDL="CREATE TABLE t (id INT64) PRIMARY KEY (id)"),
        pytest.raises(ImproperlyConfigured, match="SPANNER_TEST_DDL: expected a list"),
    ):
        setup_spanner_databases(verbosity=0)
    with (
        override_settings(SPANNER_TEST_DDL={"nope": []}),
        pytest.raises(ImproperlyConfigured, match="SPANNER_TEST_DDL: unknown alias.*'nope'"),
    ):
        setup_spanner_databases(verbosity=0)


def test_manage_py_test_creates_and_drops_the_test_databases(
    emulator: Emulator, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    app = f"rn{tag}"
    long = f"analytics-{tag}-long-data"  # test_ + its 28 characters is cut to 30
    test_app, test_long = name_for_tests(app), name_for_tests(long)
    assert len(long) == 28 and len(test_long) == 30
    where: dict[str, Any] = {"project": PROJECT, "instance": INSTANCE}
    # The "real" database exists and must be left alone; a stale test database from an
    # interrupted run is replaced.
    provision(emulator.host, database=app, ddl=[NOTES], **where)
    provision(emulator.host, database=test_app, ddl=[EVENTS], **where)
    project = tmp_path / "runner_project"
    project.mkdir()
    (project / "__init__.py").write_text("")
    (project / "settings.py").write_text(
        SETTINGS.format(
            project=PROJECT,
            instance=INSTANCE,
            host=emulator.host,
            app=app,
            long=long,
            notes=NOTES,
            events=EVENTS,
        )
    )
    (project / "tests.py").write_text(TESTS.format(test_app=test_app, test_long=test_long))
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "runner_project.settings"}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT)])
    try:
        done = subprocess.run(
            [sys.executable, "-m", "django", "test", "runner_project", "-v", "2"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, output[-4000:]
        assert "Ran 1 test" in output
        assert f"Creating Spanner test database for alias 'default' ('{test_app}')" in output
        assert f"Destroying Spanner test database '{test_long}'" in output
        left = _databases(emulator.host)
        assert test_app not in left and test_long not in left
        assert app in left
    finally:
        for name in (app, test_app, test_long):
            drop_database(emulator.host, database=name, **where)


def test_keepdb_keeps_the_test_database_and_reuses_it(emulator: Emulator) -> None:
    from django.conf import settings

    from django_app import pools
    from django_app.test import teardown_spanner_databases

    app = f"kd{uuid.uuid4().hex[:8]}"
    test_app = name_for_tests(app)
    spanner = {
        "default": {
            "PROJECT": PROJECT,
            "INSTANCE": INSTANCE,
            "DATABASE": app,
            "EMULATOR_HOST": emulator.host,
            "POOL_SIZE": 1,
        }
    }
    where: dict[str, Any] = {"project": PROJECT, "instance": INSTANCE}
    try:
        with override_settings(SPANNER=spanner, SPANNER_TEST_DDL=[NOTES]):
            for run in range(2):  # the second run finds the first one's database and row
                old = setup_spanner_databases(keepdb=True, verbosity=0)
                assert settings.SPANNER["default"]["DATABASE"] == test_app
                with pools["default"].handle() as s:
                    assert s.execute_sql("SELECT COUNT(*) FROM notes") == [[run]]
                    with s.batch() as batch:
                        batch.insert("notes", ["id", "body"], [[f"n{run}", "kept"]])
                teardown_spanner_databases(old, keepdb=True, verbosity=0)
                assert settings.SPANNER["default"]["DATABASE"] == app
                assert test_app in _databases(emulator.host)
    finally:
        drop_database(emulator.host, database=test_app, **where)
    assert test_app not in _databases(emulator.host)

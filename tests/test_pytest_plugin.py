"""The package's pytest plugin, run in fresh pytest processes (pytester) against a real emulator.

Each inner run starts its own emulator through ``spanner_emulator``, so these tests also
prove that the plugin stops it and drops its databases.
"""

from __future__ import annotations

import pytest

from spanner_pools.emulator import DatabaseExists, Emulator, drop_database, provision

from .conftest import INSTANCE, PROJECT, SCHEMA

NOTES = "CREATE TABLE notes (id STRING(64) NOT NULL, body STRING(MAX)) PRIMARY KEY (id)"

INNER_HELPERS = """
import pytest

from spanner_pools import PoolManager, SpannerSettings
from spanner_pools.emulator import admin_client


def databases(db):
    with admin_client(db.host, db.project) as client:
        return sorted(d.name.rsplit("/", 1)[-1] for d in client.instance(db.instance).list_databases())


def write_and_count(settings, note_id):
    manager = PoolManager(SpannerSettings.from_mapping(settings))
    try:
        with manager.handle() as s:
            with s.batch() as batch:
                batch.insert("notes", ["id", "body"], [[note_id, "x"]])
            return s.execute_sql("SELECT COUNT(*) FROM notes")[0][0]
    finally:
        manager.close()
"""


@pytest.fixture(autouse=True)
def _no_django_project(monkeypatch: pytest.MonkeyPatch) -> None:
    """The inner runs are someone else's project: pytest-django must not set up ours (the
    Django tests of this suite export DJANGO_SETTINGS_MODULE, which loads the client)."""
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)


def test_loading_the_plugin_imports_and_starts_nothing(pytester: pytest.Pytester) -> None:
    """Every pytest run of every user loads it: no Spanner client, no gRPC, no emulator."""
    pytester.makepyfile(
        """
        import sys

        def test_nothing_loaded(request):
            assert request.config.pluginmanager.has_plugin("spanner_pools.pytest_plugin")
            assert "spanner_pools.pytest_plugin" in sys.modules
            loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("google", "grpc"))
            assert loaded == []
            assert "spanner_pools.emulator" not in sys.modules
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_fresh_database_per_test_with_ini_ddl(pytester: pytest.Pytester) -> None:
    pytester.makeini(f"[pytest]\nspanner_ddl =\n    {NOTES}\nspanner_pool_size = 2\n")
    pytester.makepyfile(
        INNER_HELPERS
        + """
SEEN = []


def test_first(spanner_database, spanner_settings):
    SEEN.append(spanner_database.database)
    assert spanner_settings["DATABASE"] == spanner_database.database
    assert spanner_settings["EMULATOR_HOST"] == spanner_database.host
    assert spanner_settings["POOL_SIZE"] == 2
    assert write_and_count(spanner_settings, "a") == 1


def test_second_gets_an_empty_one_and_the_first_is_dropped(spanner_database, spanner_settings):
    assert spanner_database.database != SEEN[0]
    assert write_and_count(spanner_settings, "b") == 1
    assert SEEN[0] not in databases(spanner_database)
    assert spanner_database.database in databases(spanner_database)


def test_flask_config(spanner_flask_config, spanner_database):
    from flask import Flask
    from flask_ext import Spanner

    app = Flask("inner_app")
    app.config.update(spanner_flask_config)
    ext = Spanner(app)
    with app.app_context():
        assert ext.session.execute_sql("SELECT COUNT(*) FROM notes") == [[0]]
    ext.get_manager(app).close()


def test_django_settings(spanner_django_settings, spanner_database):
    assert spanner_django_settings == {"default": spanner_database.settings()}
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=4)


def test_module_scope_and_an_overridden_ddl_fixture(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nspanner_database_scope = module\n")
    pytester.makeconftest(
        f"""
import pytest

@pytest.fixture(scope="session")
def spanner_ddl():
    return [{NOTES!r}]
"""
    )
    body = (
        INNER_HELPERS
        + """
NAMES = []


def test_one(spanner_database, spanner_settings):
    NAMES.append(spanner_database.database)
    assert write_and_count(spanner_settings, "one") == 1


def test_two_shares_it(spanner_database, spanner_settings):
    assert spanner_database.database == NAMES[0]
    assert write_and_count(spanner_settings, "two") == 2
    with open("names.txt", "a") as out:
        out.write(spanner_database.database + "\\n")
"""
    )
    pytester.makepyfile(test_a=body, test_b=body)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
    names = (pytester.path / "names.txt").read_text().split()
    assert len(names) == 2 and names[0] != names[1], names


def test_bad_scope_is_a_usage_error_naming_the_option(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nspanner_database_scope = forever\n")
    pytester.makepyfile("def test_x(spanner_database):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*spanner_database_scope: expected one of function*'forever'*"])
    assert result.ret != 0


def test_provision_refuses_an_existing_database_unless_told(emulator: Emulator) -> None:
    """An existing database would keep its old schema: say so instead of skipping the DDL."""
    where = {"project": PROJECT, "instance": INSTANCE, "database": "exists-check"}
    assert provision(emulator.host, ddl=SCHEMA, **where) is True
    try:
        with pytest.raises(DatabaseExists, match="'exists-check' already exists.*exist_ok=True"):
            provision(emulator.host, ddl=SCHEMA, **where)
        assert provision(emulator.host, ddl=SCHEMA, exist_ok=True, **where) is False
    finally:
        drop_database(emulator.host, **where)
    drop_database(emulator.host, **where)  # dropping a missing database is harmless
    assert provision(emulator.host, ddl=SCHEMA, **where) is True
    drop_database(emulator.host, **where)

"""pytest fixtures for apps that use spanner-pools: an emulator, fresh databases, settings.

Installed with the package (entry point ``pytest11``), so it is loaded by every pytest run
of every project that has spanner-pools installed: importing it loads nothing but pytest and
the standard library, and nothing starts until a test asks for a fixture.

Fixtures:

* ``spanner_emulator`` (session): one Cloud Spanner emulator on a free port of 127.0.0.1,
  stopped after the last test (the binary: ``SPANNER_EMULATOR_BIN``, the Debian package or
  ``gcloud``).
* ``spanner_ddl``: the DDL statements of each new database; the ini option ``spanner_ddl``
  (one statement per line) by default, or override the fixture.
* ``spanner_database``: a fresh database made from ``spanner_ddl``, dropped afterwards; one
  per test, or per class/module/package/session with the ini option
  ``spanner_database_scope``.
* ``spanner_settings``, ``spanner_flask_config``, ``spanner_django_settings``: settings that
  point at it, for ``SpannerSettings.from_mapping``, Flask's ``app.config`` (``SPANNER_*``)
  and Django's ``SPANNER`` setting.

Ini options: ``spanner_ddl``, ``spanner_database_scope``, ``spanner_project``
(``test-project``), ``spanner_instance`` (``test-instance``), ``spanner_pool_size`` (3) and
``spanner_emulator_log_requests`` (start the emulator with ``--log_requests`` so that
``Emulator.requests()`` counts RPCs).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .emulator import Emulator

__all__ = [
    "SpannerTestDatabase",
    "spanner_database",
    "spanner_ddl",
    "spanner_django_settings",
    "spanner_emulator",
    "spanner_flask_config",
    "spanner_settings",
]

SCOPES = ("function", "class", "module", "package", "session")


def pytest_addoption(parser: pytest.Parser) -> None:
    """The plugin's ini options (all optional)."""
    parser.addini(
        "spanner_ddl",
        type="linelist",
        default=[],
        help="spanner-pools: DDL statements (one per line) of each spanner_database",
    )
    parser.addini(
        "spanner_database_scope",
        default="function",
        help="spanner-pools: one spanner_database per " + ", ".join(SCOPES) + " (function)",
    )
    parser.addini("spanner_project", default="test-project", help="spanner-pools: project ID")
    parser.addini(
        "spanner_instance", default="test-instance", help="spanner-pools: emulator instance ID"
    )
    parser.addini(
        "spanner_pool_size", default="3", help="spanner-pools: POOL_SIZE in spanner_settings"
    )
    parser.addini(
        "spanner_emulator_log_requests",
        type="bool",
        default=False,
        help="spanner-pools: start the emulator with --log_requests (Emulator.requests())",
    )


def _ini(config: pytest.Config, name: str) -> str:
    return str(config.getini(name)).strip()


def _database_scope(fixture_name: str, config: pytest.Config) -> Any:
    """The scope of ``spanner_database``, from the ini option ``spanner_database_scope``."""
    scope = _ini(config, "spanner_database_scope") or "function"
    if scope not in SCOPES:
        raise pytest.UsageError(
            f"spanner_database_scope: expected one of {', '.join(SCOPES)}, got {scope!r}"
        )
    return scope


@dataclass(frozen=True)
class SpannerTestDatabase:
    """A database on the test emulator: where it is, and settings that point at it."""

    host: str
    project: str
    instance: str
    database: str
    pool_size: int = 3

    @property
    def name(self) -> str:
        """The full resource name, ``projects/.../instances/.../databases/...``."""
        return f"projects/{self.project}/instances/{self.instance}/databases/{self.database}"

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """Core settings (``PROJECT``, ``DATABASE``, ``EMULATOR_HOST``...) plus ``overrides``."""
        return {
            "PROJECT": self.project,
            "INSTANCE": self.instance,
            "DATABASE": self.database,
            "EMULATOR_HOST": self.host,
            "POOL_SIZE": self.pool_size,
            **overrides,
        }


@pytest.fixture(scope="session")
def spanner_emulator(pytestconfig: pytest.Config) -> Iterator[Emulator]:
    """One emulator process for the whole test session, on a free port; stopped at the end."""
    from .emulator import Emulator

    log_requests = bool(pytestconfig.getini("spanner_emulator_log_requests"))
    emulator = Emulator(log_requests=log_requests)
    with emulator:
        yield emulator
    emulator.log_path.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def spanner_ddl(pytestconfig: pytest.Config) -> list[str]:
    """DDL of each new ``spanner_database``: the ini option ``spanner_ddl``; override it freely."""
    return [line for line in pytestconfig.getini("spanner_ddl") if line.strip()]


@pytest.fixture(scope=_database_scope)
def spanner_database(
    spanner_emulator: Emulator, spanner_ddl: list[str], pytestconfig: pytest.Config
) -> Iterator[SpannerTestDatabase]:
    """A fresh database created from ``spanner_ddl`` and dropped afterwards."""
    from .emulator import drop_database, provision

    raw_size = _ini(pytestconfig, "spanner_pool_size") or "3"
    try:
        pool_size = int(raw_size)
    except ValueError:
        raise pytest.UsageError(
            f"spanner_pool_size: expected an integer, got {raw_size!r}"
        ) from None
    database = SpannerTestDatabase(
        host=spanner_emulator.host,
        project=_ini(pytestconfig, "spanner_project") or "test-project",
        instance=_ini(pytestconfig, "spanner_instance") or "test-instance",
        database="t" + uuid.uuid4().hex[:16],
        pool_size=pool_size,
    )
    host, project, instance, name = (
        database.host,
        database.project,
        database.instance,
        database.database,
    )
    provision(host, project=project, instance=instance, database=name, ddl=list(spanner_ddl))
    yield database
    drop_database(host, project=project, instance=instance, database=name)


@pytest.fixture
def spanner_settings(spanner_database: SpannerTestDatabase) -> dict[str, Any]:
    """Core settings for ``SpannerSettings.from_mapping()`` pointing at ``spanner_database``."""
    return spanner_database.settings()


@pytest.fixture
def spanner_flask_config(spanner_settings: dict[str, Any]) -> dict[str, Any]:
    """Flask config (``SPANNER_PROJECT``...) for ``create_app(spanner_flask_config)``."""
    return {f"SPANNER_{key}": value for key, value in spanner_settings.items()}


@pytest.fixture
def spanner_django_settings(spanner_settings: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A ``SPANNER`` setting for Django: ``settings.SPANNER = spanner_django_settings``."""
    return {"default": dict(spanner_settings)}

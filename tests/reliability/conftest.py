"""Fixtures of the reliability suite, and the collector of the figures each test measured.

Every test records what it measured (requests sent, failures, sessions left on the server...)
with the ``figures`` fixture. At the end of the run the figures are printed in the terminal
summary (no ``-s`` needed) and written to ``<pytest basetemp>/reliability-figures.json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from spanner_pools.emulator import Emulator
from tests.e2e import GunicornServer
from tests.example_db import admin as admin  # the fixtures, re-exported
from tests.example_db import example_db as example_db

from .harness import Admin, example_server, probe_server

_FIGURES: dict[str, dict[str, Any]] = {}
_FIGURES_FILE: list[Path] = []


@pytest.fixture(scope="session")
def _figures_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.getbasetemp() / "reliability-figures.json"
    _FIGURES_FILE.append(path)
    yield path
    path.write_text(json.dumps(_FIGURES, indent=2, sort_keys=True) + "\n")


@pytest.fixture
def figures(request: pytest.FixtureRequest, _figures_file: Path) -> dict[str, Any]:
    """A dict for this test's measured figures; kept even when the test fails."""
    return _FIGURES.setdefault(request.node.nodeid.split("::", 1)[-1], {})


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _FIGURES:
        return
    terminalreporter.section("reliability figures")
    for name, values in _FIGURES.items():
        shown = ", ".join(f"{key}={value}" for key, value in values.items())
        terminalreporter.write_line(f"{name}: {shown}")
    if _FIGURES_FILE:
        terminalreporter.write_line(f"(written to {_FIGURES_FILE[0]})")


@pytest.fixture
def probe_db(admin: Admin) -> Iterator[str]:
    """A fresh database with the tests' ``notes(id, body)`` table for the probe app."""
    from tests.conftest import SCHEMA

    name = admin.create_database(SCHEMA, prefix="pr")
    yield name
    admin.drop(name)


@pytest.fixture
def servers() -> Iterator[Callable[[GunicornServer], GunicornServer]]:
    """Register a server to be stopped after the test, whatever happens."""
    started: list[GunicornServer] = []

    def track(server: GunicornServer) -> GunicornServer:
        started.append(server)
        return server

    yield track
    for server in started:
        server.stop()


@pytest.fixture
def example_site(
    emulator: Emulator, example_db: str, servers: Callable[[GunicornServer], GunicornServer]
) -> Callable[..., GunicornServer]:
    """Start ``example_server(emulator.host, example_db, **kwargs)``, stopped after the test,
    and return it once ``/health`` answers."""

    def start(**kwargs: Any) -> GunicornServer:
        return servers(example_server(emulator.host, example_db, **kwargs)).start(
            ready_path="/health"
        )

    return start


@pytest.fixture
def probe_site(
    emulator: Emulator, probe_db: str, servers: Callable[[GunicornServer], GunicornServer]
) -> Callable[..., GunicornServer]:
    """Start ``probe_server(emulator.host, probe_db, **kwargs)``, stopped after the test,
    and return it once ``/health`` answers."""

    def start(**kwargs: Any) -> GunicornServer:
        return servers(probe_server(emulator.host, probe_db, **kwargs)).start(ready_path="/health")

    return start

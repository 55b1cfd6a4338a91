"""A SimpleTestCase whose ``SPANNER`` setting points at its class's emulator database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest
from django.test import SimpleTestCase
from django.test.utils import override_settings

from django_app import pools
from spanner_pools.emulator import Emulator

from .emulator_db import EmulatorDatabase


class SpannerTestCase(SimpleTestCase):
    """``SPANNER = {"default": spanner_config | default_overrides, **extra_aliases}``.

    ``override_settings`` resets ``django_app.pools`` on entry and exit, so each test gets
    fresh managers and their sessions are deleted afterwards.
    """

    default_overrides: ClassVar[dict[str, Any]] = {}
    #: alias -> overrides of ``spanner_config`` (same database).
    extra_aliases: ClassVar[dict[str, dict[str, Any]]] = {}

    emulator: Emulator
    server_sessions: Callable[[], list[Any]]
    spanner_config: dict[str, Any]

    @pytest.fixture(autouse=True)
    def _spanner_database(
        self, emulator: Emulator, class_database: EmulatorDatabase
    ) -> Iterator[None]:
        self.emulator = emulator
        self.server_sessions = class_database.sessions
        self.spanner_config = spanner_config = dict(class_database.config)
        assert self.server_sessions() == [], "a previous test left sessions behind"
        setting = {"default": {**spanner_config, **self.default_overrides}}
        for alias, overrides in self.extra_aliases.items():
            setting[alias] = {**spanner_config, **overrides}
        with override_settings(SPANNER=setting):
            yield

    def stats(self, alias: str = "default") -> dict[str, Any]:
        return pools[alias].stats()

    def assert_all_returned(self, alias: str = "default", checkouts: int | None = None) -> None:
        """Nothing lent out, every session idle exactly once (a double return would add one)."""
        stats = self.stats(alias)
        assert stats["in_use"] == 0, stats
        if stats["pool"] in ("pinging", "transaction_pinging"):
            assert stats["available"] == stats["sessions"] == stats["size"], stats
        if checkouts is not None:
            assert stats["checkouts"] == checkouts, stats

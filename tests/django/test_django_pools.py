"""``django_app.pools``: built without network, one manager per alias, clear errors, closed at
process exit."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import SimpleTestCase
from django.test.utils import override_settings

from django_app import PoolDoesNotExist, pools
from spanner_pools import PoolManager, registry
from tests.e2e import ROOT

from .base import SpannerTestCase
from .emulator_db import EmulatorDatabase


class PoolsTests(SpannerTestCase):
    extra_aliases = {"analytics": {"POOL": "bursty"}}

    def test_ready_builds_managers_without_network(self) -> None:
        offset = self.emulator.log_offset()
        pools.reset()
        apps.get_app_config("spanner_pools").ready()  # what runserver's reloader parent runs
        assert sorted(pools) == ["analytics", "default"]
        assert all(isinstance(pools[a], PoolManager) for a in pools)
        assert all(not pools[a].opened for a in pools)
        assert {pools["default"], pools["analytics"]} <= set(registry.managers())
        call_command("check")  # checks touch no network either
        assert self.emulator.requests(offset) == {}

    def test_one_manager_per_alias_used_outside_requests(self) -> None:
        assert pools["default"] is pools["default"]
        assert pools["default"].alias == "default"
        assert pools["analytics"].alias == "analytics"
        with pools["default"].handle() as handle:
            assert handle.execute_sql("SELECT 1") == [[1]]
        assert len(self.server_sessions()) == 3

    def test_worker_hook_opens_every_pool(self) -> None:
        pools.configure()  # as AppConfig.ready() does at start-up
        registry.open_all()
        assert pools["default"].opened and pools["analytics"].opened
        # 3 pinging sessions, and the one bursty opens with (a missing database shows at open)
        assert len(self.server_sessions()) == 4

    def test_unknown_alias(self) -> None:
        assert "nope" not in pools
        assert pools.get("nope") is None
        with pytest.raises(PoolDoesNotExist) as info:
            pools["nope"]
        assert str(info.value) == (
            "Spanner alias 'nope' is not configured in settings.SPANNER "
            "(configured aliases: 'default', 'analytics')"
        )

    def test_settings_change_closes_the_old_pools(self) -> None:
        old = pools["default"]
        old.check()
        assert len(self.server_sessions()) == 3
        with override_settings(SPANNER={"default": {**self.spanner_config, "POOL_SIZE": 2}}):
            assert old.closed
            assert self.server_sessions() == []
            assert pools["default"].settings.pool_size == 2


class InvalidSettingsTests(SimpleTestCase):
    @override_settings(SPANNER={"default": {"INSTANCE": "main", "DATABASE": "app", "POOL_SIZE": 0}})
    def test_access_raises_improperly_configured_naming_the_key(self) -> None:
        assert pools.configure() is False  # ready() does not crash on it
        with pytest.raises(ImproperlyConfigured) as info:
            pools["default"]
        message = str(info.value)
        assert message.startswith(
            "SPANNER['default']['POOL_SIZE']: expected an integer from 1 to 1000, got 0 (int)."
        )
        assert "spanner_pools.E008" in message

    def test_missing_setting(self) -> None:
        with self.settings():
            del settings.SPANNER  # fires no setting_changed: reset by hand
            pools.reset()
            with pytest.raises(ImproperlyConfigured, match="SPANNER setting is missing"):
                pools["default"]


def test_process_exit_deletes_the_sessions(fresh_database: EmulatorDatabase) -> None:
    """No explicit close: the core's atexit hook deletes the sessions of a Django process."""
    script = textwrap.dedent(
        """
        import django
        django.setup()
        from django_app import pools
        with pools["default"].handle() as handle:
            handle.execute_sql("SELECT 1")
        print("sessions", pools["default"].stats()["sessions"])
        """
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "tests.django.project.settings",
        "DJANGO_SPANNER_EMULATOR_HOST": str(fresh_database.config["EMULATOR_HOST"]),
        "DJANGO_SPANNER_DATABASE": fresh_database.name,
        "DJANGO_SPANNER_POOL_SIZE": "2",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "sessions 2" in result.stdout
    assert fresh_database.sessions() == []

"""``manage.py spanner_status`` and ``spanner_ping`` through ``call_command``."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from spanner_pools.emulator import free_port

from .base import SpannerTestCase


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


class StatusTests(SpannerTestCase):
    # Any existing file passes validation; the emulator client ignores it.
    extra_aliases = {"analytics": {"POOL": "bursty", "CREDENTIALS": __file__}}

    def test_status_of_every_alias(self) -> None:
        text = run("spanner_status")
        assert "Spanner alias 'default'" in text
        assert "Spanner alias 'analytics'" in text
        assert f"DATABASE: {self.spanner_config['DATABASE']!r}" in text
        assert "live query: OK, SELECT 1 answered in" in text
        assert "in_use: 0" in text
        assert "opened: True" in text
        assert "CREDENTIALS: '***'" in text
        assert __file__ not in text

    def test_status_json_of_one_alias(self) -> None:
        report = json.loads(run("spanner_status", "--alias", "default", "--json"))
        assert list(report) == ["default"]
        entry = report["default"]
        assert entry["live_query"]["ok"] is True
        assert entry["settings"]["POOL_SIZE"] == 3
        assert entry["settings"]["CREDENTIALS"] is None
        assert entry["stats"]["sessions"] == 3
        assert entry["stats"]["checkouts"] == 1
        assert entry["stats"]["in_use"] == 0

    def test_unknown_alias(self) -> None:
        with pytest.raises(
            CommandError, match=r"alias 'nope' is not configured .*'default', 'analytics'"
        ):
            run("spanner_status", "--alias", "nope")
        with pytest.raises(CommandError, match="alias 'nope'"):
            run("spanner_ping", "--alias", "nope")

    def test_ping(self) -> None:
        text = run("spanner_ping")
        assert (
            f"Spanner pool 'default' (projects/test-project/instances/test-instance/databases/{self.spanner_config['DATABASE']}): pinged 3 idle session(s)."
            in text
        )
        assert "POOL='bursty' keeps no sessions to ping" in text
        run("spanner_ping", "--alias", "default")
        from django_app import pools

        assert pools["default"].stats()["pings"] == 6


class UnreachableCommandTests(SpannerTestCase):
    default_overrides = {"EMULATOR_HOST": f"127.0.0.1:{free_port()}", "RPC_TIMEOUT": 1}

    def test_status_fails_with_a_clear_message(self) -> None:
        out = io.StringIO()
        with pytest.raises(CommandError) as info:
            call_command("spanner_status", stdout=out)
        message = str(info.value)
        assert message.startswith("Spanner pool 'default' (projects/test-project/")
        assert "is unreachable: PoolUnavailable" in message
        assert "live query: FAILED" in out.getvalue()
        assert "EMULATOR_HOST" in out.getvalue()  # settings are still shown

    def test_ping_fails_with_a_clear_message(self) -> None:
        with pytest.raises(CommandError, match=r"Spanner pool 'default' .* is unreachable"):
            run("spanner_ping")

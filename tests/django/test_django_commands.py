"""``manage.py spanner_status`` and ``spanner_ping`` through ``call_command``."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_app import pools
from spanner_pools.emulator import Emulator, free_port
from tests.proxy import BlackHoleProxy

from .base import SpannerTestCase


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


class StatusTests(SpannerTestCase):
    # Any existing file passes validation; the emulator client ignores it.
    default_overrides = {"LABELS": {"team": "web"}}
    extra_aliases = {"analytics": {"POOL": "bursty", "CREDENTIALS": __file__}}

    def test_status_of_every_alias_shows_the_servers_sessions(self) -> None:
        pools["default"].open()  # as a web worker would: 3 labelled sessions on the server
        text = run("spanner_status")
        database = self.spanner_config["DATABASE"]
        assert text.startswith(
            f"default: projects/test-project/instances/test-instance/databases/{database}\n"
        )
        assert "analytics: projects/" in text
        assert text.count("reachable:  yes (SELECT 1 in") == 2
        # Both aliases use the same database here: each sees the 3 sessions of the pool.
        assert text.count("sessions:   3 on the server") == 2
        assert "team=web: 3" in text and "; unlabeled: 0" in text
        assert "CREDENTIALS=***" in text and __file__ not in text
        assert not pools["analytics"].opened  # the command built no pool
        assert pools["default"].stats()["checkouts"] == 0
        assert len(self.server_sessions()) == 3  # the probe sessions were deleted

    def test_status_json_of_one_alias(self) -> None:
        document = json.loads(run("spanner_status", "--alias", "default", "--json"))
        assert document["ok"] is True
        [(name, report)] = document["databases"].items()
        assert name == "default"
        assert report["reachable"] is True and report["error"] is None
        assert report["settings"]["POOL_SIZE"] == 3
        assert report["settings"]["CREDENTIALS"] is None
        assert report["sessions"]["total"] == 0
        assert not pools["default"].opened

    def test_unknown_alias(self) -> None:
        with pytest.raises(
            CommandError, match=r"alias 'nope' is not configured .*'default', 'analytics'"
        ):
            run("spanner_status", "--alias", "nope")
        with pytest.raises(CommandError, match="alias 'nope'"):
            run("spanner_ping", "--alias", "nope")

    def test_ping(self) -> None:
        text = run("spanner_ping")
        assert text.count("reachable:  yes (SELECT 1 in") == 2
        assert "sessions" not in text
        assert json.loads(run("spanner_ping", "--alias", "default", "--json"))["ok"] is True
        assert self.server_sessions() == []


class UnreachableCommandTests(SpannerTestCase):
    default_overrides = {"EMULATOR_HOST": f"127.0.0.1:{free_port()}", "RPC_TIMEOUT": 2}

    def test_status_fails_with_a_clear_message(self) -> None:
        out = io.StringIO()
        with pytest.raises(CommandError) as info:
            call_command("spanner_status", stdout=out)
        message = str(info.value)
        assert message.startswith("Spanner database 'default' (projects/test-project/")
        assert "is unreachable: " in message
        assert "reachable:  NO (" in out.getvalue()
        assert "EMULATOR_HOST=127.0.0.1:" in out.getvalue()  # settings are still shown

    def test_ping_fails_with_a_clear_message(self) -> None:
        with pytest.raises(CommandError, match=r"Spanner database 'default' .* is unreachable"):
            run("spanner_ping")


class HungServerCommandTests(SpannerTestCase):
    """A server that accepts connections but never answers (this used to take 43 s)."""

    proxy: BlackHoleProxy

    @pytest.fixture(autouse=True)
    def _black_hole(self, emulator: Emulator) -> Iterator[None]:
        self.proxy = BlackHoleProxy(int(emulator.host.rsplit(":", 1)[1]))
        self.proxy.black_hole = True
        yield
        self.proxy.close()

    def test_status_is_bounded_by_the_timeout(self) -> None:
        from django.test.utils import override_settings

        hung: dict[str, Any] = {**self.spanner_config, "EMULATOR_HOST": self.proxy.host}
        with override_settings(SPANNER={"default": hung, "analytics": hung}):
            deadline = 2.0
            start = time.monotonic()
            out = io.StringIO()
            with pytest.raises(CommandError) as info:
                call_command("spanner_status", "--timeout", str(deadline), stdout=out)
            elapsed = time.monotonic() - start
        # --timeout is honoured (RPC_TIMEOUT, 30 s, would make it 30 s or more); parallelism
        # is tested load-independently in tests/test_status.py.
        assert elapsed < 20, elapsed
        assert str(info.value).count("DeadlineExceeded") == 2

"""``spanner_pools.status``: reachability and the server's sessions, against the emulator."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from spanner_pools import PoolManager, SpannerSettings
from spanner_pools.emulator import Emulator, free_port
from spanner_pools.status import (
    PROBE_LABELS,
    check_database,
    check_databases,
    render_json,
    render_text,
)

from .proxy import BlackHoleProxy


@pytest.fixture
def proxy(emulator: Emulator) -> Iterator[BlackHoleProxy]:
    """A proxy in front of the emulator that swallows every byte (a server that never answers)."""
    hole = BlackHoleProxy(int(emulator.host.rsplit(":", 1)[1]))
    hole.black_hole = True
    yield hole
    hole.close()


def settings(config: dict[str, Any], **overrides: Any) -> SpannerSettings:
    return SpannerSettings.from_mapping({**config, **overrides})


def test_reachable_database_with_no_sessions(
    spanner_config: dict[str, Any], server_sessions: Callable[[], list[Any]]
) -> None:
    report = check_database("default", settings(spanner_config))
    assert report["reachable"] is True, report
    assert report["error"] is None
    assert report["database"].endswith(f"/databases/{spanner_config['DATABASE']}")
    assert report["sessions"]["total"] == 0  # the probe session is not counted
    assert server_sessions() == []  # ... and was deleted


def test_sessions_of_a_pool_are_counted_by_label(
    spanner_config: dict[str, Any],
    make_manager: Callable[..., PoolManager],
    server_sessions: Callable[[], list[Any]],
) -> None:
    web = make_manager(LABELS={"team": "web", "env": "test"})
    web.open()
    bursty = make_manager(POOL="bursty")  # an unlabeled session, created on demand
    with bursty.handle() as handle:
        handle.execute_sql("SELECT 1")
    before = len(server_sessions())
    assert before == 4

    report = check_database("default", settings(spanner_config))

    sessions = report["sessions"]
    assert sessions["total"] == 4
    own = {k: v for k, v in sessions["by_label"].items() if not k.startswith("spanner_pools_")}
    assert own == {"env=test": 3, "team=web": 3}
    # Every pooled session also names its process (spanner_pools.owner): both pools are ours.
    assert sessions["by_label"][f"spanner_pools_pid={os.getpid()}"] == 4
    assert sessions["unlabeled"] == 0
    assert sessions["truncated"] is False
    assert 0 <= sessions["newest_age_seconds"] <= sessions["oldest_age_seconds"]
    assert sessions["max_idle_seconds"] >= 0
    assert len(server_sessions()) == before  # the probe is gone; the pools' sessions stay
    text = render_text({"default": report})
    assert "sessions:   4 on the server" in text
    assert "env=test: 3, " in text and "team=web: 3" in text and "unlabeled: 0" in text


def test_probe_of_another_status_check_is_not_counted(
    spanner_config: dict[str, Any],
    admin_client: Any,
    server_sessions: Callable[[], list[Any]],
) -> None:
    """Two status checks of one database run in parallel (two aliases, two hosts): each must
    skip the other's probe session, or it reports one session too many by chance."""
    from google.cloud.spanner_v1.session import Session

    database = admin_client.instance(spanner_config["INSTANCE"]).database(
        spanner_config["DATABASE"]
    )
    other = Session(database, labels=dict(PROBE_LABELS))  # as another check would create it
    other.create()
    try:
        report = check_database("default", settings(spanner_config))
    finally:
        other.delete()
    assert report["reachable"] is True, report
    assert report["sessions"]["total"] == 0, report["sessions"]
    assert server_sessions() == []


def test_ping_only_lists_nothing(spanner_config: dict[str, Any]) -> None:
    report = check_database("default", settings(spanner_config), list_sessions=False)
    assert report["reachable"] is True
    assert "sessions" not in report
    assert report["select_1_ms"] >= 0


def test_missing_database_is_unreachable(spanner_config: dict[str, Any]) -> None:
    report = check_database("gone", settings(spanner_config, DATABASE="no_such_db"))
    assert report["reachable"] is False
    assert report["error"].startswith("NotFound"), report["error"]
    assert report["sessions"] is None
    document = json.loads(render_json({"gone": report}))
    assert document["ok"] is False
    assert "NO (NotFound" in render_text({"gone": report})


def test_closed_port_is_unreachable(spanner_config: dict[str, Any]) -> None:
    down = settings(spanner_config, EMULATOR_HOST=f"127.0.0.1:{free_port()}")
    report = check_database("down", down, timeout=2)
    assert report["reachable"] is False
    assert report["error"]


def test_server_that_never_answers_costs_about_the_deadline(
    spanner_config: dict[str, Any], proxy: BlackHoleProxy
) -> None:
    deadline = 2.0
    hung = settings(spanner_config, EMULATOR_HOST=proxy.host, RPC_TIMEOUT=deadline)
    start = time.monotonic()
    reports = check_databases({"default": hung, "analytics": hung})  # in parallel
    elapsed = time.monotonic() - start
    # In parallel: the whole took less than the two checks one after the other (each report's
    # own elapsed time, which a loaded machine stretches as much as the whole). No-hang: 60 s.
    assert elapsed < sum(r["elapsed_ms"] for r in reports.values()) / 1000, (elapsed, reports)
    assert elapsed < 60, elapsed
    for report in reports.values():
        assert report["reachable"] is False
        assert report["error"].startswith("DeadlineExceeded"), report["error"]
        assert report["timeout_seconds"] == deadline


def test_timeout_overrides_rpc_timeout(
    spanner_config: dict[str, Any], proxy: BlackHoleProxy
) -> None:
    hung = settings(spanner_config, EMULATOR_HOST=proxy.host, RPC_TIMEOUT=600)
    start = time.monotonic()
    report = check_database("default", hung, timeout=1.0)
    # RPC_TIMEOUT would make it 600 s; a generous no-hang bound proves the override.
    assert time.monotonic() - start < 60
    assert report["reachable"] is False and report["timeout_seconds"] == 1.0

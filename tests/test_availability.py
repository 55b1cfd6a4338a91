"""Availability under faults: an outage costs what it lasts, in every ``POOL`` mode.

A loopback proxy refuses connections for a second, or the emulator restarts (every session
lost); requests must succeed again within seconds at the default settings (PING_INTERVAL 300:
before the breaker had its own probe, recovery took 150 s, or never without a pinger). The
bounds below only guard against a hang; the seconds are measured in bench/recovery.py.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from spanner_pools import PoolManager, PoolUnavailable, SpannerSettings
from spanner_pools.emulator import Emulator, provision

from .conftest import INSTANCE, PROJECT, SCHEMA
from .forking import run_in_child
from .proxy import BlackHoleProxy

MODES = ["pinging", "transaction_pinging", "bursty", "multiplexed"]
#: Far beyond the recovery the breaker promises (about 2 s), far below the old 150 s.
RECOVERY_GUARD = 30.0


def manager_for(host: str, database: str, **overrides: Any) -> PoolManager:
    """A manager at the default settings except where a test says otherwise."""
    return PoolManager(
        SpannerSettings.from_mapping(
            {
                "PROJECT": PROJECT,
                "INSTANCE": INSTANCE,
                "DATABASE": database,
                "EMULATOR_HOST": host,
                "POOL_SIZE": 2,
                **overrides,
            }
        )
    )


def serve_again(manager: PoolManager) -> int:
    """Send requests until one succeeds; returns how many failed with PoolUnavailable."""
    failures = 0
    deadline = time.monotonic() + RECOVERY_GUARD
    while True:
        try:
            manager.check()
            return failures
        except PoolUnavailable:
            failures += 1
            assert time.monotonic() < deadline, "requests did not succeed again"
            time.sleep(0.05)


@pytest.mark.parametrize("mode", MODES)
def test_a_one_second_refusal_costs_about_a_second(
    proxied: BlackHoleProxy, database_id: str, mode: str
) -> None:
    manager = manager_for(proxied.host, database_id, POOL=mode)
    try:
        manager.open()
        manager.check()
        proxied.refuse()
        with pytest.raises(PoolUnavailable):
            manager.check()
        assert manager.stats()["unreachable"]
        time.sleep(1.0)
        proxied.accept_again()
        failures = serve_again(manager)
        stats = manager.stats()
        assert not stats["unreachable"] and stats["setup_error"] is None
        # Every PoolUnavailable a caller saw is counted, fail-fast refusals included.
        assert stats["transport_errors"] == failures + 1, stats
        assert stats["in_use"] == 0
        for _ in range(5):
            manager.check()
    finally:
        manager.close()


@pytest.fixture(scope="module")
def restartable() -> Iterator[Emulator]:
    """An emulator of this module's own, so restarting it loses no other test's data."""
    with Emulator() as emu:
        yield emu


@pytest.mark.parametrize("mode", MODES)
def test_after_an_emulator_restart_requests_succeed_again(restartable: Emulator, mode: str) -> None:
    database = f"restart-{mode.replace('_', '-')}"
    provision(restartable.host, project=PROJECT, instance=INSTANCE, database=database, ddl=SCHEMA)
    manager = manager_for(restartable.host, database, POOL=mode)
    try:
        manager.open()
        manager.check()
        restartable.stop()
        with pytest.raises(PoolUnavailable):
            manager.check()
        restartable.start()  # same port; every session and database is gone
        provision(
            restartable.host, project=PROJECT, instance=INSTANCE, database=database, ddl=SCHEMA
        )
        serve_again(manager)
        for _ in range(5):
            manager.check()
        stats = manager.stats()
        assert not stats["unreachable"] and stats["in_use"] == 0, stats
        assert stats["sessions"] <= manager.settings.pool_size, stats
    finally:
        manager.close()


def test_the_log_says_what_fail_fast_waits_for(
    proxied: BlackHoleProxy, database_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger="spanner_pools")
    for mode, words in (("bursty", "bursty mode has no pinger"), ("pinging", "or by the pinger")):
        manager = manager_for(proxied.host, database_id, POOL=mode)
        try:
            manager.open()
            proxied.refuse()
            with pytest.raises(PoolUnavailable, match="failing fast until a probe RPC"):
                for _ in range(3):  # the first may fail before the breaker opened
                    manager.check()
            text = "\n".join(r.getMessage() for r in caplog.records)
            assert "requests fail fast with 503 until a probe RPC" in text
            assert words in text
            assert "until the pinger gets through" not in text  # the old, wrong promise
        finally:
            proxied.accept_again()
            manager.close()
            caplog.clear()


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_in_use_stays_zero_in_a_child_that_closes_an_inherited_handle(
    make_manager: Callable[..., PoolManager],
) -> None:
    manager = make_manager()
    handle = manager.handle()
    handle.execute_sql("SELECT 1")

    def child() -> dict[str, Any]:
        handle.close()  # the parent's session: not this process's to return
        with manager.handle() as mine:
            mine.execute_sql("SELECT 1")
        stats = manager.stats()
        return {"in_use": stats["in_use"], "pid": os.getpid()}

    report = run_in_child(child)
    assert report["in_use"] == 0 and report["pid"] != os.getpid()
    assert manager.stats()["in_use"] == 1
    handle.close()
    assert manager.stats()["in_use"] == 0


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_handle_made_before_fork_and_used_in_the_child_returns_its_session_there(
    make_manager: Callable[..., PoolManager],
) -> None:
    manager = make_manager()
    manager.open()
    handle = manager.handle()  # made in the parent, first used in the child

    def child() -> dict[str, Any]:
        handle.execute_sql("SELECT 1")
        in_use = manager.stats()["in_use"]
        handle.close()
        return {"in_use": in_use, "after": manager.stats()["in_use"]}

    assert run_in_child(child) == {"in_use": 1, "after": 0}
    handle.close()
    assert manager.stats()["in_use"] == 0

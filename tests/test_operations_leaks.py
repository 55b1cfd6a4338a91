"""LEAK_TIMEOUT: a handle held too long is reported once, with its checkout stack, in any mode."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

import pytest

from spanner_pools import PoolManager, SessionHandle

from .waiting import wait_for

Make = Callable[..., PoolManager]


#: Handles a test keeps without closing them (the bug being detected). A handle that is
#: dropped instead is returned when garbage collected (test_a_dropped_handle_...).
HELD: list[SessionHandle] = []


def leak_a_session(manager: PoolManager) -> None:
    """Check a session out and keep the handle without closing it (the bug being detected)."""
    handle = manager.handle()
    assert handle.execute_sql("SELECT 1") == [[1]]
    HELD.append(handle)


def leak_reports(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "LEAK_TIMEOUT" in r.getMessage()]


def watcher_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("spanner-pools-leaks:")]


@pytest.mark.parametrize(
    "overrides",
    [{"POOL": "bursty"}, {"POOL": "multiplexed"}, {"POOL": "pinging", "PING_INTERVAL": 300}],
    ids=["bursty", "multiplexed", "pinging-300s"],
)
def test_a_lost_handle_is_reported_once_with_its_stack(
    make_manager: Make, caplog: pytest.LogCaptureFixture, overrides: dict[str, object]
) -> None:
    """No pinger (bursty, multiplexed) or a pinger that sleeps 300 s: the report still comes."""
    caplog.set_level(logging.WARNING, logger="spanner_pools")
    manager = make_manager(LEAK_TIMEOUT=0.2, **overrides)
    leak_a_session(manager)
    wait_for(lambda: manager.stats()["leaks_reported"] == 1)

    [record] = leak_reports(caplog)
    assert record.name == "spanner_pools.manager"
    assert record.levelno == logging.WARNING
    assert (record.alias, record.pid) == ("default", os.getpid())  # type: ignore[attr-defined]
    text = record.getMessage()
    assert text.startswith(f"Spanner pool 'default' (pid {os.getpid()}): session held for")
    assert "by thread MainThread" in text
    stack = text.split("checked out at:\n", 1)[1]
    assert "in leak_a_session" in stack and __file__ in stack
    assert "spanner_pools" + os.sep not in stack  # the library's own frames are cut off

    # A second leak is reported too, and the first one is not reported again.
    leak_a_session(manager)
    wait_for(lambda: manager.stats()["leaks_reported"] == 2)
    assert len(leak_reports(caplog)) == 2
    assert manager.stats()["in_use"] == 2
    manager.close(timeout=0)  # the leaked sessions are never coming back
    for handle in HELD:
        handle.close()  # deleted, as the pool is closed
    HELD.clear()


@pytest.mark.parametrize("pool", ["pinging", "bursty", "multiplexed"])
def test_a_dropped_handle_gives_its_session_back_when_collected(
    make_manager: Make, caplog: pytest.LogCaptureFixture, pool: str
) -> None:
    """A handle dropped without close() does not hold its session for the process's life."""
    import gc

    caplog.set_level(logging.WARNING, logger="spanner_pools")
    manager = make_manager(POOL=pool, POOL_SIZE=1, POOL_TIMEOUT=0.5)
    for _ in range(3):  # with POOL_SIZE 1, the second checkout needs the first one back
        handle = manager.handle()
        assert handle.execute_sql("SELECT 1") == [[1]]
        del handle
        gc.collect()
        wait_for(lambda: manager.stats()["in_use"] == 0)
    assert manager.stats()["checkouts"] == 3
    warnings = [r for r in caplog.records if "garbage collected without close()" in r.getMessage()]
    assert len(warnings) == 3


def test_returned_handles_stay_quiet(make_manager: Make, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="spanner_pools")
    off = make_manager()  # LEAK_TIMEOUT unset: no stack recorded, no thread
    with off.handle() as handle:
        handle.execute_sql("SELECT 1")
        assert handle.checkout_stack is None
    assert not off.stats()["leak_watcher_alive"]

    limit = 1.0
    manager = make_manager(LEAK_TIMEOUT=limit)
    start = time.monotonic()
    with manager.handle() as returned:
        returned.execute_sql("SELECT 1")
    held = time.monotonic() - start
    kept: SessionHandle = manager.handle()
    kept.execute_sql("SELECT 1")
    wait_for(lambda: manager.stats()["leaks_reported"] == 1)  # the one still held
    if held >= limit:
        pytest.skip(f"the machine stalled {held:.1f}s inside a with block; inconclusive")
    assert len(leak_reports(caplog)) == 1
    assert kept.leak_reported and not returned.leak_reported
    kept.close()


def test_the_watcher_starts_on_first_checkout_and_stops_with_close(make_manager: Make) -> None:
    manager = make_manager(LEAK_TIMEOUT=60)
    manager.open()
    assert not manager.stats()["leak_watcher_alive"]  # opening alone (a master) starts nothing
    with manager.handle() as handle:
        handle.execute_sql("SELECT 1")
    assert manager.stats()["leak_watcher_alive"]
    [thread] = [t for t in watcher_threads() if manager.settings.database in t.name]
    manager.close()
    assert not thread.is_alive()
    assert manager.stats()["leaks_reported"] == 0

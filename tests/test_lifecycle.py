"""Session lifecycle: age rotation, labels, bounded pings, no ping storms."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from spanner_pools import PoolManager
from spanner_pools.emulator import Emulator
from spanner_pools.owner import with_process_labels

from .proxy import BlackHoleProxy
from .waiting import wait_for

Make = Callable[..., PoolManager]


def session_ids(sessions: list[Any]) -> set[str]:
    return {s.name.rsplit("/", 1)[-1] for s in sessions}


def test_sessions_are_rotated_before_max_age_without_failing_a_request(
    make_manager: Make, server_sessions: Callable[[], list[Any]]
) -> None:
    labels = {"app": "rotation"}
    manager = make_manager(POOL_SIZE=3, PING_INTERVAL=0.5, MAX_SESSION_AGE=1.5, LABELS=labels)
    manager.open()
    original = session_ids(server_sessions())
    assert len(original) == 3

    stop = threading.Event()
    failures: list[BaseException] = []
    served = 0

    def traffic() -> None:
        nonlocal served
        while not stop.is_set() and served < 5000:
            try:
                with manager.handle() as handle:
                    handle.execute_sql("SELECT 1")
                served += 1
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                failures.append(exc)
            time.sleep(0.01)

    worker = threading.Thread(target=traffic)
    worker.start()
    most_on_server = 0
    try:
        deadline = time.monotonic() + 30
        while manager.stats()["sessions_rotated"] < 6 and time.monotonic() < deadline:
            most_on_server = max(most_on_server, len(server_sessions()))
            time.sleep(0.02)
    finally:
        stop.set()
        worker.join()
    stats = manager.stats()
    assert stats["sessions_rotated"] >= 6, stats  # every session replaced, some twice
    assert failures == []
    assert served > 0
    remaining = server_sessions()
    assert not session_ids(remaining) & original  # no original session is left
    assert len(remaining) == 3
    assert most_on_server <= 3 + 1  # create first, then delete: one extra at most
    assert all(dict(s.labels) == with_process_labels(labels) for s in remaining)
    assert stats["oldest_session_age"] < 1.5 + 1.0
    assert stats["sessions_deleted"] == stats["sessions_rotated"]


def test_a_checked_out_session_is_never_rotated_away(
    make_manager: Make, server_sessions: Callable[[], list[Any]]
) -> None:
    manager = make_manager(POOL_SIZE=1, PING_INTERVAL=0.2, MAX_SESSION_AGE=0.5)
    with manager.handle() as handle:
        handle.execute_sql("SELECT 1")
        held = handle.session.session_id
        time.sleep(1.0)  # well past its age: still in use, so not rotated
        assert held in session_ids(server_sessions())
        assert handle.execute_sql("SELECT 2") == [[2]]
    wait_for(lambda: manager.stats()["sessions_rotated"] >= 1)  # rotated once returned
    assert held not in session_ids(server_sessions())


@pytest.fixture
def proxy(emulator: Emulator) -> Iterator[BlackHoleProxy]:
    proxy = BlackHoleProxy(int(emulator.host.rsplit(":", 1)[1]))
    yield proxy
    proxy.close()


def test_hung_rpcs_never_stall_the_pinger(
    make_manager: Make, proxy: BlackHoleProxy, server_sessions: Callable[[], list[Any]]
) -> None:
    manager = make_manager(
        EMULATOR_HOST=proxy.host, POOL_SIZE=3, PING_INTERVAL=0.5, RPC_TIMEOUT=3, POOL_TIMEOUT=1
    )
    manager.open()
    wait_for(lambda: manager.stats()["pings"] >= 3)

    proxy.black_hole = True  # every RPC now hangs until its deadline
    errors_before = manager.stats()["ping_errors"]
    # Pings have a 1 s deadline: several failed passes go by while the server is silent.
    wait_for(lambda: manager.stats()["ping_errors"] >= errors_before + 3)
    stats = manager.stats()
    assert stats["pinger_alive"] is True
    assert stats["sessions"] == 3  # a hung ping loses no session

    proxy.restore()
    pings = manager.stats()["pings"]
    wait_for(lambda: manager.stats()["pings"] >= pings + 3)
    with manager.handle() as handle:
        assert handle.execute_sql("SELECT 1") == [[1]]
    assert manager.stats()["sessions"] == 3
    assert len(server_sessions()) == 3


def test_close_does_not_hang_when_spanner_hangs(make_manager: Make, proxy: BlackHoleProxy) -> None:
    manager = make_manager(EMULATOR_HOST=proxy.host, POOL_SIZE=5, RPC_TIMEOUT=30)
    manager.open()
    proxy.black_hole = True
    started = time.monotonic()
    manager.close()
    # One DeleteSession deadline (2 s) and then it gives up, instead of 5 x 30 s: a no-hang
    # bound, far above the expected time.
    assert time.monotonic() - started < 20
    assert not manager.stats()["pinger_alive"]


def test_pings_of_workers_started_together_spread_over_the_interval(
    make_manager: Make, emulator: Emulator
) -> None:
    """Four pools opened at the same instant, as workers booting together, do not ping in
    lockstep: their first pings are scheduled over the interval, and the pings reach the server.

    The schedule is what is asserted (tests/test_book.py checks its distribution offline): when
    a ping is actually sent also depends on how busy the machine is, which no test may rely on.
    """
    interval = 1.0
    managers = [make_manager(POOL_SIZE=3, PING_INTERVAL=interval) for _ in range(4)]
    for manager in managers:
        manager.open()
    scheduled = [at for m in managers for at in m.pool.book.schedule()]  # type: ignore[union-attr]
    assert len(scheduled) == 12
    # In lockstep all 12 would share one time; uniform over half the interval, a spread under
    # 5% of it has a probability of about 1e-10.
    assert max(scheduled) - min(scheduled) >= 0.05 * interval, scheduled
    offset = emulator.log_offset()
    start = time.time()
    wait_for(lambda: sum(m.stats()["pings"] for m in managers) >= 60)
    times = [t for t in emulator.request_times("Spanner.ExecuteSql", offset) if t >= start]
    assert len(times) >= 48

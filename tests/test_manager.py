"""PoolManager and SessionHandle against the real emulator."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from google.api_core.exceptions import InvalidArgument
from google.cloud.spanner_v1 import param_types
from google.cloud.spanner_v1.pool import BurstyPool, PingingPool, TransactionPingingPool

from spanner_pools import (
    HandleClosed,
    PoolClosed,
    PoolExhausted,
    PoolManager,
    SessionHandle,
    registry,
)
from spanner_pools.emulator import Emulator
from spanner_pools.owner import with_process_labels

from .waiting import wait_for

Make = Callable[..., PoolManager]
SESSION_RPCS = {"Spanner.BatchCreateSessions", "Spanner.CreateSession", "Spanner.GetSession"}


def insert_note(handle: Any, note_id: str, body: str = "hello") -> int:
    return int(
        handle.execute_update(
            "INSERT INTO notes (id, body) VALUES (@id, @body)",
            params={"id": note_id, "body": body},
            param_types={"id": param_types.STRING, "body": param_types.STRING},
        )
    )


def test_nothing_happens_until_first_use(
    make_manager: Make, emulator: Emulator, server_sessions: Callable[[], list[Any]]
) -> None:
    offset = emulator.log_offset()
    manager = make_manager()
    handle = manager.handle()
    assert emulator.requests(offset) == {}
    assert not manager.opened
    assert not handle.checked_out
    handle.close()  # a handle never used checks nothing out
    assert manager.stats()["checkouts"] == 0
    assert server_sessions() == []

    with manager.handle() as used:
        assert used.execute_sql("SELECT 1") == [[1]]  # opens lazily
    assert manager.opened
    assert len(server_sessions()) == 3
    assert emulator.requests(offset)["Spanner.BatchCreateSessions"] == 1


def test_open_is_idempotent_and_builds_the_named_pool_types(make_manager: Make) -> None:
    pinging = make_manager()
    pinging.open()
    pinging.open()
    assert isinstance(pinging.pool, PingingPool)
    assert pinging.stats()["sessions"] == 3

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the client's deprecation warning is not re-raised
        tx = make_manager(POOL="transaction_pinging")
        tx.open()
    assert isinstance(tx.pool, TransactionPingingPool)
    assert tx.stats()["pinger_alive"] is True

    bursty = make_manager(POOL="bursty")
    bursty.open()
    assert isinstance(bursty.pool, BurstyPool)
    assert bursty.stats()["pinger_alive"] is False  # nothing to ping

    mux = make_manager(POOL="multiplexed")
    mux.open()
    assert mux.pool is None
    assert mux.stats()["pinger_alive"] is False


@pytest.mark.parametrize("pool", ["pinging", "transaction_pinging", "bursty", "multiplexed"])
def test_every_operation_in_every_mode(make_manager: Make, pool: str) -> None:
    manager = make_manager(POOL=pool)
    with manager.handle() as handle:
        assert insert_note(handle, f"{pool}-1") == 1
        with handle.batch() as batch:
            batch.insert("notes", ["id", "body"], [[f"{pool}-2", "b"], [f"{pool}-3", "c"]])

        def count(tx: Any) -> int:
            return int(list(tx.execute_sql("SELECT COUNT(*) FROM notes"))[0][0])

        assert handle.run_in_transaction(count) == 3
        with handle.snapshot(multi_use=True) as snap:
            first = list(snap.execute_sql("SELECT id FROM notes ORDER BY id"))
            second = list(snap.execute_sql("SELECT COUNT(*) FROM notes"))
        assert [r[0] for r in first] == [f"{pool}-1", f"{pool}-2", f"{pool}-3"]
        assert second == [[3]]
        rows = handle.execute_sql(
            "SELECT body FROM notes WHERE id = @id",
            params={"id": f"{pool}-1"},
            param_types={"id": param_types.STRING},
        )
        assert rows == [["hello"]]
        if pool != "multiplexed":
            assert not handle.session.is_multiplexed
    stats = manager.stats()
    assert stats["in_use"] == 0
    assert stats["checkouts"] == 1


@pytest.mark.parametrize("pool", ["pinging", "transaction_pinging"])
def test_pinging_pool_requests_pay_no_session_rpc(
    make_manager: Make, emulator: Emulator, pool: str
) -> None:
    manager = make_manager(POOL=pool)
    manager.open()
    with manager.handle() as handle:
        handle.execute_sql("SELECT 1")  # warm the channel

    def mutations(handle: Any) -> None:
        with handle.batch() as batch:
            batch.insert("notes", ["id", "body"], [["mut", "x"]])

    work: dict[str, Callable[[Any], object]] = {
        "read": lambda h: h.execute_sql("SELECT id FROM notes"),
        "dml": lambda h: insert_note(h, "dml"),
        "mutations": mutations,
    }
    cost: dict[str, dict[str, int]] = {}
    for name, run in work.items():
        offset = emulator.log_offset()
        with manager.handle() as handle:
            run(handle)
        cost[name] = dict(emulator.requests(offset))
    assert cost["read"] == {"Spanner.ExecuteStreamingSql": 1}
    assert cost["dml"] == {"Spanner.ExecuteSql": 1, "Spanner.Commit": 1}
    assert cost["mutations"] == {"Spanner.Commit": 1}


def test_handle_returns_exactly_once_and_refuses_reuse(make_manager: Make) -> None:
    manager = make_manager()
    handle = manager.handle()
    handle.execute_sql("SELECT 1")
    assert manager.stats()["in_use"] == 1
    handle.close()
    handle.close()
    assert manager.stats()["in_use"] == 0
    assert manager.stats()["available"] == 3
    with pytest.raises(HandleClosed, match="closed"):
        handle.execute_sql("SELECT 1")


def test_session_is_the_older_name_of_handle(make_manager: Make) -> None:
    manager = make_manager()
    with manager.session() as older:  # deprecated alias: a handle, not the client's Session
        assert isinstance(older, SessionHandle)
        assert older.execute_sql("SELECT 1") == [[1]]
        assert manager.stats()["in_use"] == 1
    assert manager.stats()["in_use"] == 0


def test_errors_return_the_session_and_do_not_poison_it(make_manager: Make) -> None:
    manager = make_manager(POOL_SIZE=1)
    with pytest.raises(InvalidArgument), manager.handle() as handle:
        handle.execute_sql("SELECT * FROM no_such_table")
    with pytest.raises(ZeroDivisionError), manager.handle() as handle:
        handle.run_in_transaction(lambda tx: 1 / 0)
    assert manager.stats()["in_use"] == 0
    with manager.handle() as handle:
        assert handle.execute_sql("SELECT 1") == [[1]]


def test_exhaustion_raises_pool_exhausted(make_manager: Make) -> None:
    manager = make_manager(POOL_SIZE=1, POOL_TIMEOUT=0.2)
    with manager.handle() as holder:
        holder.execute_sql("SELECT 1")
        with pytest.raises(PoolExhausted, match=r"POOL_TIMEOUT=0.2s.*POOL_SIZE=1") as info:
            manager.handle().execute_sql("SELECT 1")
        assert info.value.retry_after >= 1
    stats = manager.stats()
    assert stats["timeouts"] == 1
    assert stats["in_use"] == 0
    with manager.handle() as handle:
        assert handle.execute_sql("SELECT 1") == [[1]]


def test_checkout_and_release_under_threads(make_manager: Make) -> None:
    manager = make_manager(POOL_SIZE=3, POOL_TIMEOUT=30)
    manager.open()
    seen: set[str] = set()
    lock = threading.Lock()

    def work(i: int) -> int:
        with manager.handle() as handle:
            rows = handle.execute_sql(
                "SELECT @i", params={"i": i}, param_types={"i": param_types.INT64}
            )
            with lock:
                seen.add(handle.session.session_id)
            return int(rows[0][0])

    with ThreadPoolExecutor(8) as pool:
        assert sorted(pool.map(work, range(120))) == list(range(120))
    stats = manager.stats()
    assert stats["checkouts"] == 120
    assert stats["in_use"] == 0
    assert stats["max_in_use"] <= 3
    assert stats["available"] == 3
    assert len(seen) <= 3


def test_close_deletes_every_session_and_is_final(
    make_manager: Make, server_sessions: Callable[[], list[Any]]
) -> None:
    manager = make_manager(POOL_SIZE=4)
    manager.open()
    assert len(server_sessions()) == 4
    assert manager in registry.managers()
    manager.close()
    manager.close()
    assert server_sessions() == []
    assert manager not in registry.managers()
    assert manager.stats()["sessions_deleted"] == 4
    with pytest.raises(PoolClosed):
        manager.handle().execute_sql("SELECT 1")


STILL_LENT = "still lent out when the wait for them ended"


@pytest.mark.parametrize("pool", ["pinging", "bursty"])
def test_a_session_still_lent_when_the_wait_ends_is_deleted_once(
    make_manager: Make,
    server_sessions: Callable[[], list[Any]],
    caplog: pytest.LogCaptureFixture,
    pool: str,
) -> None:
    """A server that cancelled the request (daphne) never gives it back: close deletes it."""
    manager = make_manager(POOL_SIZE=2, POOL=pool)
    handle = manager.handle()
    handle.execute_sql("SELECT 1")
    with caplog.at_level("WARNING", logger="spanner_pools"):
        manager.close(timeout=0)
    assert server_sessions() == []  # the lent one too
    assert [r for r in caplog.records if STILL_LENT in r.getMessage()] != []
    assert manager.stats()["in_use"] == 1  # until the handle lets go (the channel stays open)
    with pytest.raises(PoolClosed, match="deleted this handle's session"):
        handle.execute_sql("SELECT 1")
    caplog.clear()
    with caplog.at_level("WARNING", logger="spanner_pools"):
        handle.close()  # nothing put back, nothing deleted twice
    assert caplog.records == []
    assert manager.stats()["in_use"] == 0
    if pool == "pinging":
        assert manager.stats()["sessions_deleted"] == 2
    assert server_sessions() == []


def test_a_session_given_back_while_close_waits_is_deleted_as_usual(
    make_manager: Make, server_sessions: Callable[[], list[Any]], caplog: pytest.LogCaptureFixture
) -> None:
    manager = make_manager(POOL_SIZE=2)
    handle = manager.handle()
    handle.execute_sql("SELECT 1")
    with caplog.at_level("WARNING", logger="spanner_pools"):
        closer = threading.Thread(target=manager.close, kwargs={"timeout": 300})
        closer.start()
        wait_for(lambda: manager.closed)
        handle.close()  # within the wait: returned, then deleted by the closed pool
        closer.join(300)  # ends as soon as nothing is lent, not after the wait
    assert not closer.is_alive()
    assert [r for r in caplog.records if STILL_LENT in r.getMessage()] == []
    assert server_sessions() == []
    stats = manager.stats()
    assert (stats["in_use"], stats["sessions_deleted"]) == (0, 2)


def test_close_all_closes_every_registered_manager(
    make_manager: Make, server_sessions: Callable[[], list[Any]]
) -> None:
    first, second = make_manager(POOL_SIZE=1), make_manager(POOL_SIZE=2)
    registry.open_all()
    assert first.opened and second.opened
    assert len(server_sessions()) == 3
    registry.close_all()
    assert first.closed and second.closed
    assert server_sessions() == []


def delete_all_sessions(manager: PoolManager, server_sessions: Callable[[], list[Any]]) -> int:
    """Delete the pool's sessions behind its back, as the server does after an hour idle."""
    api = manager.database.spanner_api
    sessions = server_sessions()
    for session in sessions:
        api.delete_session(name=session.name)
    return len(sessions)


@pytest.mark.parametrize("operation", ["read", "dml", "transaction", "batch"])
def test_a_session_deleted_on_the_server_is_replaced_transparently(
    make_manager: Make, server_sessions: Callable[[], list[Any]], operation: str
) -> None:
    manager = make_manager(POOL_SIZE=2)
    manager.open()
    assert delete_all_sessions(manager, server_sessions) == 2
    with manager.handle() as handle:
        if operation == "read":
            assert handle.execute_sql("SELECT 1") == [[1]]
        elif operation == "dml":
            assert insert_note(handle, "replaced") == 1
        elif operation == "transaction":
            assert handle.run_in_transaction(lambda tx: list(tx.execute_sql("SELECT 2"))) == [[2]]
        else:
            with handle.batch() as batch:
                batch.insert("notes", ["id", "body"], [["b1", "x"]])
    assert manager.stats()["sessions_replaced"] == 1
    assert manager.stats()["in_use"] == 0


def test_labels_are_set_on_every_session(
    make_manager: Make, server_sessions: Callable[[], list[Any]]
) -> None:
    manager = make_manager(LABELS={"app": "notes", "env": "test"})
    manager.open()
    sessions = server_sessions()
    assert len(sessions) == 3
    # plus the labels naming this process (spanner_pools.owner)
    expected = with_process_labels({"app": "notes", "env": "test"})
    assert all(dict(s.labels) == expected for s in sessions)
    delete_all_sessions(manager, server_sessions)
    with manager.handle() as handle:
        handle.execute_sql("SELECT 1")  # replaced: the new session carries the labels too
    assert [dict(s.labels) for s in server_sessions()] == [expected]


def test_stats_keys(make_manager: Make) -> None:
    stats = make_manager().stats()
    for key in (
        "pid",
        "pool",
        "size",
        "available",
        "in_use",
        "checkouts",
        "waits",
        "timeouts",
        "pings",
        "ping_errors",
        "sessions_replaced",
        "pinger_alive",
        "sessions_created",
        "sessions_deleted",
        "sessions_rotated",
        "max_in_use",
        "oldest_session_age",
    ):
        assert key in stats, key


def test_ping_now_pings_every_idle_session(make_manager: Make, emulator: Emulator) -> None:
    manager = make_manager()
    manager.open()
    offset = emulator.log_offset()
    assert manager.ping() == 3
    assert emulator.requests(offset)["Spanner.ExecuteSql"] == 3
    assert manager.stats()["pings"] == 3
    manager.check()

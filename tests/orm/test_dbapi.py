"""spanner_pools.dbapi.connect(manager): DB-API connections whose sessions the manager lends."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from google.cloud.spanner_dbapi import Connection

from spanner_pools import PoolExhausted, PoolManager, registry
from spanner_pools.dbapi import connect
from spanner_pools.emulator import Emulator

from ..forking import run_in_child

Make = Callable[..., PoolManager]
SESSION_RPCS = ("Spanner.CreateSession", "Spanner.BatchCreateSessions", "Spanner.DeleteSession")


def session_rpcs(counts: Any) -> dict[str, int]:
    return {name: counts[name] for name in SESSION_RPCS if counts[name]}


def test_crud_in_transactions_lends_one_session_per_transaction(
    make_manager: Make, emulator: Emulator, server_sessions: Callable[[], list[Any]]
) -> None:
    manager = make_manager(POOL_SIZE=2)
    manager.open()
    conn = connect(manager)
    assert isinstance(conn, Connection)
    cur = conn.cursor()

    cur.execute("INSERT INTO notes (id, body) VALUES (%s, %s)", ("a", "first"))
    assert manager.stats()["in_use"] == 1  # the transaction holds its session until commit
    conn.commit()
    assert manager.stats()["in_use"] == 0

    cur.execute("UPDATE notes SET body = %s WHERE id = %s", ("second", "a"))
    assert cur.rowcount == 1
    conn.commit()
    cur.execute("SELECT id, body FROM notes")
    assert cur.fetchall() == [("a", "second")]
    conn.rollback()
    cur.execute("DELETE FROM notes WHERE id = %s", ("a",))
    conn.commit()
    cur.execute("SELECT COUNT(*) FROM notes")
    assert cur.fetchone() == (0,)
    conn.commit()

    stats = manager.stats()
    assert stats["in_use"] == 0
    assert stats["checkouts"] == 5
    conn.close()
    # Closing the connection never clears the shared pool.
    assert manager.stats()["available"] == 2
    assert len(server_sessions()) == 2
    since = emulator.log_offset()
    other = connect(manager)
    other.autocommit = True
    other.cursor().execute("SELECT 1")
    assert session_rpcs(emulator.requests(since)) == {}
    other.close()


def test_autocommit_read_and_write_cost_no_session_rpc(
    make_manager: Make, emulator: Emulator
) -> None:
    manager = make_manager(POOL_SIZE=2)
    manager.open()
    conn = connect(manager)
    conn.autocommit = True
    cur = conn.cursor()
    since = emulator.log_offset()
    cur.execute("INSERT INTO notes (id, body) VALUES ('r', 'x')")
    write = emulator.requests(since)
    since = emulator.log_offset()
    cur.execute("SELECT body FROM notes WHERE id = 'r'")
    assert cur.fetchall() == [("x",)]
    read = emulator.requests(since)
    assert session_rpcs(write) == {} and session_rpcs(read) == {}
    assert read == {"Spanner.ExecuteStreamingSql": 1}
    assert write["Spanner.Commit"] == 1
    stats = manager.stats()
    assert stats["in_use"] == 0
    assert stats["checkouts"] == 2  # each autocommit statement borrowed a pooled session
    conn.close()


def test_multiplexed_mode_uses_the_multiplexed_session(
    make_manager: Make, emulator: Emulator, server_sessions: Callable[[], list[Any]]
) -> None:
    manager = make_manager(POOL="multiplexed")
    conn = connect(manager)
    cur = conn.cursor()
    cur.execute("INSERT INTO notes (id, body) VALUES ('m', 'x')")
    conn.commit()
    since = emulator.log_offset()
    for _ in range(3):
        cur.execute("UPDATE notes SET body = 'y' WHERE id = 'm'")
        conn.commit()
    assert session_rpcs(emulator.requests(since)) == {}
    assert len(server_sessions()) <= 1  # the one multiplexed session at most
    assert manager.stats()["in_use"] == 0
    conn.close()


def test_conflicting_transactions_abort_and_retry(make_manager: Make, emulator: Emulator) -> None:
    """The emulator runs one read-write transaction at a time: the older one is aborted,
    and the DB-API replays it on the same lent session at commit."""
    manager = make_manager(POOL_SIZE=2)
    with manager.handle() as handle:
        handle.execute_update("INSERT INTO notes (id, body) VALUES ('c', '0')")
    first, second = connect(manager), connect(manager)
    since = emulator.log_offset()
    first.cursor().execute("UPDATE notes SET body = 'first' WHERE id = 'c'")
    assert manager.stats()["in_use"] == 1
    second.cursor().execute("UPDATE notes SET body = CONCAT(body, '+second') WHERE id = 'c'")
    assert manager.stats()["in_use"] == 2
    second.commit()
    first.commit()  # aborted by the emulator, replayed and committed
    counts = emulator.requests(since)
    assert counts["Spanner.Commit"] >= 3, counts  # one of them committed twice
    with manager.handle() as handle:
        assert handle.execute_sql("SELECT body FROM notes WHERE id = 'c'") == [["first"]]
    assert manager.stats()["in_use"] == 0
    first.close()
    second.close()


def test_exhausted_pool_fails_fast_with_pool_error(make_manager: Make) -> None:
    manager = make_manager(POOL_SIZE=1, POOL_TIMEOUT=0.2)
    holder, waiter = connect(manager), connect(manager)
    holder.cursor().execute("UPDATE notes SET body = 'x' WHERE id = 'none'")
    with pytest.raises(PoolExhausted):
        waiter.cursor().execute("UPDATE notes SET body = 'y' WHERE id = 'none'")
    waiter.rollback()
    holder.commit()
    waiter.cursor().execute("UPDATE notes SET body = 'y' WHERE id = 'none'")
    waiter.commit()
    assert manager.stats()["in_use"] == 0
    holder.close()
    waiter.close()


def test_close_returns_the_session_of_an_open_transaction(make_manager: Make) -> None:
    manager = make_manager(POOL_SIZE=1)
    conn = connect(manager)
    conn.cursor().execute("INSERT INTO notes (id, body) VALUES ('z', 'never')")
    assert manager.stats()["in_use"] == 1
    conn.close()
    assert manager.stats()["in_use"] == 0
    with manager.handle() as handle:
        assert handle.execute_sql("SELECT COUNT(*) FROM notes") == [[0]]


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_connection_inherited_over_fork_drops_the_parents_transaction(make_manager: Make) -> None:
    manager = make_manager(POOL_SIZE=1, PING_INTERVAL=0.5)
    conn = connect(manager)
    cur = conn.cursor()
    cur.execute("SELECT 1")  # a read-write transaction with the parent's session lent out
    parent_session = conn._session.session_id

    def child() -> dict[str, Any]:
        conn.rollback()  # nothing of the parent's is touched, nothing is returned
        cur.execute("INSERT INTO notes (id, body) VALUES ('f', 'child')")
        session = conn._session.session_id
        conn.commit()
        stats = manager.stats()
        conn.close()
        registry.close_all()
        return {"pid": os.getpid(), "session": session, "in_use": stats["in_use"]}

    report = run_in_child(child)
    assert report["session"] != parent_session
    assert report["in_use"] == 0
    # The parent's transaction and session are still its own.
    assert conn._session.session_id == parent_session
    conn.rollback()
    cur.execute("SELECT body FROM notes")
    assert cur.fetchall() == [("child",)]
    conn.commit()
    assert manager.stats()["in_use"] == 0
    conn.close()


def test_connect_rejects_anything_but_a_manager() -> None:
    with pytest.raises(TypeError, match="PoolManager"):
        connect("spanner:///projects/p/instances/i/databases/d")  # type: ignore[arg-type]


def test_a_session_the_server_lost_is_replaced_not_returned(
    make_manager: Make, admin_client: Any, database_id: str
) -> None:
    from google.api_core.exceptions import NotFound

    from ..conftest import INSTANCE

    manager = make_manager(POOL_SIZE=1)
    manager.open()
    database = admin_client.instance(INSTANCE).database(database_id)
    for session in database.spanner_api.list_sessions(database=database.name):
        database.spanner_api.delete_session(name=session.name)  # behind the pool's back
    conn = connect(manager)
    with pytest.raises(NotFound, match="Session not found"):
        conn.cursor().execute("INSERT INTO notes (id, body) VALUES ('l', 'lost')")
    conn.rollback()
    # The only pooled session was swapped before it went back: the next transaction works.
    conn.cursor().execute("INSERT INTO notes (id, body) VALUES ('l', 'found')")
    conn.commit()
    stats = manager.stats()
    assert stats["sessions_replaced"] == 1
    assert stats["in_use"] == 0
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("SELECT body FROM notes")
    assert cur.fetchall() == [("found",)]
    conn.close()


def test_a_transaction_held_too_long_is_reported_by_the_leak_watcher(make_manager: Make) -> None:
    import time

    manager = make_manager(POOL_SIZE=1, LEAK_TIMEOUT=0.2)
    conn = connect(manager)
    conn.cursor().execute("SELECT 1")  # a read-write transaction: its session stays lent
    deadline = time.monotonic() + 30  # a no-hang bound, not a latency threshold
    while manager.stats()["leaks_reported"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert manager.stats()["leaks_reported"] == 1
    conn.rollback()
    assert manager.stats()["in_use"] == 0
    conn.close()

"""The pools under the client's own code: ``Database(pool=...)`` with multiplexed sessions off.

The client calls ``pool.get()``/``put()`` itself (``Database.snapshot()``, ``batch()``,
``run_in_transaction()``), and after a ``NotFound`` its checkouts put back a replacement made
by ``pool._new_session()``. The ``AbstractSessionPool`` contract as it uses it must hold.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import Any

import pytest
from google.api_core.exceptions import NotFound
from google.cloud.spanner_v1.session import Session

from spanner_pools import PoolExhausted, PoolManager, SessionReturnedTwice

from .test_pool_faults import delete_on_server  # noqa: F401 - a fixture

Make = Callable[..., PoolManager]
MANAGED = ["pinging", "transaction_pinging"]


@pytest.fixture
def no_multiplexed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client's documented switches: every Database API then goes through the pool."""
    for suffix in ("", "_FOR_RW", "_PARTITIONED_OPS"):
        monkeypatch.setenv(f"GOOGLE_CLOUD_SPANNER_MULTIPLEXED_SESSIONS{suffix}", "false")


def session_ids(server_sessions: Callable[[], list[Any]]) -> set[str]:
    return {s.name.rsplit("/", 1)[-1] for s in server_sessions()}


def read_through_database(manager: PoolManager) -> str:
    try:
        with manager.database.snapshot() as snapshot:
            assert list(snapshot.execute_sql("SELECT 1")) == [[1]]
    except NotFound:
        return "NotFound"
    return "ok"


@pytest.mark.usefixtures("no_multiplexed")
@pytest.mark.parametrize("mode", MANAGED)
def test_database_snapshot_after_the_pooled_session_was_deleted(
    make_manager: Make,
    server_sessions: Callable[[], list[Any]],
    delete_on_server: Callable[[str], None],  # noqa: F811
    mode: str,
) -> None:
    """Before: NotFound, PoolExhausted, PoolExhausted (the client's replacement was dropped)."""
    manager = make_manager(POOL=mode, POOL_SIZE=1, POOL_TIMEOUT=1)
    manager.open()
    [lost] = session_ids(server_sessions)
    delete_on_server(lost)
    outcomes = [read_through_database(manager) for _ in range(3)]
    assert outcomes == ["NotFound", "ok", "ok"]  # what the client's own PingingPool gives
    stats = manager.stats()
    assert stats["sessions"] == 1 and stats["available"] == 1, stats
    [replacement] = session_ids(server_sessions)
    assert replacement != lost


@pytest.mark.usefixtures("no_multiplexed")
@pytest.mark.parametrize("mode", MANAGED)
def test_transactions_and_batches_of_the_database_use_the_pool(
    make_manager: Make, server_sessions: Callable[[], list[Any]], mode: str
) -> None:
    manager = make_manager(POOL=mode, POOL_SIZE=2)
    manager.open()
    before = session_ids(server_sessions)
    database = manager.database
    database.run_in_transaction(
        lambda tx: tx.execute_update("INSERT INTO notes (id, body) VALUES ('a', 'x')")
    )
    with database.batch() as batch:
        batch.insert("notes", ["id", "body"], [["b", "y"]])
    assert read_through_database(manager) == "ok"
    assert session_ids(server_sessions) == before  # no session made or lost on the way
    assert manager.stats()["available"] == 2


@pytest.mark.parametrize("mode", MANAGED)
def test_a_session_put_back_twice_is_refused(make_manager: Make, mode: str) -> None:
    """Before: accepted, and the session was later lent to two callers at once."""
    manager = make_manager(POOL=mode, POOL_SIZE=1)
    pool = manager.pool
    assert pool is not None
    session = pool.get()
    pool.put(session)
    with pytest.raises(queue.Full):  # what the client's pools raise
        pool.put(session)
    with pytest.raises(SessionReturnedTwice, match="already in the pool"):
        pool.put(session)
    assert pool.get() is session
    with pytest.raises(PoolExhausted):
        pool.get(timeout=0.05)  # lent once only
    pool.put(session)


@pytest.mark.parametrize("mode", MANAGED)
def test_a_get_timeout_is_a_queue_empty(make_manager: Make, mode: str) -> None:
    """Code written to the client's documented ``queue.Empty`` catches it."""
    manager = make_manager(POOL=mode, POOL_SIZE=1)
    pool = manager.pool
    assert pool is not None
    session = pool.get()
    with pytest.raises(queue.Empty):
        pool.get(timeout=0.05)
    pool.put(session)


@pytest.mark.parametrize("mode", MANAGED)
def test_a_foreign_session_is_adopted_into_a_free_slot_or_deleted(
    make_manager: Make,
    server_sessions: Callable[[], list[Any]],
    delete_on_server: Callable[[str], None],  # noqa: F811
    mode: str,
) -> None:
    manager = make_manager(POOL=mode, POOL_SIZE=1)
    pool = manager.pool
    assert pool is not None
    database = manager.database

    # The pool is full: a session it did not create is deleted, not leaked.
    extra = Session(database)
    extra.create()
    assert extra.session_id in session_ids(server_sessions)
    pool.put(extra)
    assert extra.session_id not in session_ids(server_sessions)
    assert manager.stats()["sessions"] == 1

    # A slot is free (the client found the pooled session gone): the foreign one fills it.
    lent = pool.get()
    delete_on_server(lent.session_id)
    assert not lent.exists()  # what the client's checkouts call after a NotFound
    foreign = Session(database)
    foreign.create()
    pool.put(foreign)
    stats = manager.stats()
    assert stats["sessions"] == 1 and stats["available"] == 1, stats
    assert pool.get() is foreign
    pool.put(foreign)
    manager.close()
    assert server_sessions() == []  # the adopted session is deleted with the others

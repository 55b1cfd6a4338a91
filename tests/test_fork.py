"""After fork the child owns a new client and new sessions; the parent's keep working."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from spanner_pools import PoolManager, registry

from .forking import run_in_child

Make = Callable[..., PoolManager]


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_child_after_fork_gets_its_own_sessions(
    make_manager: Make, server_sessions: Callable[[], list[Any]]
) -> None:
    manager = make_manager(POOL_SIZE=2, PING_INTERVAL=0.5)
    with manager.handle() as handle:
        assert handle.execute_sql("SELECT 1") == [[1]]
    parent_sessions = {s.name.rsplit("/", 1)[-1] for s in server_sessions()}
    assert len(parent_sessions) == 2

    def child() -> dict[str, Any]:
        with manager.handle() as handle:
            rows = handle.execute_sql("SELECT 1")
            session_id = handle.session.session_id
        stats = manager.stats()
        registry.close_all()  # what the worker_exit hook does: delete the child's sessions
        return {"pid": os.getpid(), "rows": rows, "session": session_id, "stats": stats}

    report = run_in_child(child)
    assert report["rows"] == [[1]]
    assert report["pid"] != os.getpid()
    assert report["stats"]["pid"] == report["pid"]
    assert report["session"] not in parent_sessions
    assert report["stats"]["sessions_created"] == 2  # its own pool, not the parent's

    # The parent's sessions were neither used nor deleted by the child.
    assert {s.name.rsplit("/", 1)[-1] for s in server_sessions()} == parent_sessions
    with manager.handle() as handle:
        assert handle.execute_sql("SELECT 2") == [[2]]
        assert handle.session.session_id in parent_sessions
    assert manager.stats()["pinger_alive"] is True


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_manager_never_opened_before_fork_opens_in_the_child_only(
    make_manager: Make, server_sessions: Callable[[], list[Any]]
) -> None:
    manager = make_manager(POOL_SIZE=1)

    def child() -> dict[str, Any]:
        registry.open_all()  # what the post_worker_init hook does
        opened = manager.opened
        registry.close_all()
        return {"opened": opened}

    assert run_in_child(child) == {"opened": True}
    assert not manager.opened
    assert server_sessions() == []

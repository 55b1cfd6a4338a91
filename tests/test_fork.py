"""After fork the child owns a new client and new sessions; the parent's keep working."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest

from spanner_pools import PoolManager, registry

Make = Callable[..., PoolManager]


def run_in_child(work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Fork, run ``work`` in the child, return what it reported (JSON over a pipe)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(read_end)
        try:
            result = work()
        except BaseException as exc:  # noqa: BLE001 - report everything to the parent
            result = {"error": repr(exc)}
        with os.fdopen(write_end, "w") as out:
            out.write(json.dumps(result))
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        text = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    result: dict[str, Any] = json.loads(text)
    assert "error" not in result, result["error"]
    return result


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_child_after_fork_gets_its_own_sessions(
    make_manager: Make, server_sessions: Callable[[], list[Any]]
) -> None:
    manager = make_manager(POOL_SIZE=2, PING_INTERVAL=0.5)
    with manager.session() as handle:
        assert handle.execute_sql("SELECT 1") == [[1]]
    parent_sessions = {s.name.rsplit("/", 1)[-1] for s in server_sessions()}
    assert len(parent_sessions) == 2

    def child() -> dict[str, Any]:
        with manager.session() as handle:
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
    with manager.session() as handle:
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

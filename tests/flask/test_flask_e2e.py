"""End to end: the Flask test app under real gunicorn (sync, threads, gevent) on the emulator.

Each run sends a bounded number of concurrent reads and writes, checks that every request
succeeded and that each worker used its own sessions, then stops gunicorn gracefully and
checks that the workers deleted every session on the server.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from spanner_pools import PoolManager
from tests.conftest import INSTANCE, PROJECT
from tests.e2e import GunicornServer, Response, hammer, request
from tests.e2e import writes as is_write

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent
APP = "flask_testapp:create_app()"


def server(
    emulator: Any,
    database_id: str,
    *,
    pool_size: int,
    config: str = "python:spanner_pools.gunicorn",
    **kwargs: Any,
) -> GunicornServer:
    """gunicorn serving the test app; its settings go in as raw env-var strings."""
    env = {
        "TESTAPP_SPANNER_PROJECT": PROJECT,
        "TESTAPP_SPANNER_INSTANCE": INSTANCE,
        "TESTAPP_SPANNER_DATABASE": database_id,
        "TESTAPP_SPANNER_EMULATOR_HOST": emulator.host,
        "TESTAPP_SPANNER_POOL_SIZE": str(pool_size),
        # Generous: a request waits for a session rather than failing on a slow machine.
        "TESTAPP_SPANNER_POOL_TIMEOUT": "30",
    }
    return GunicornServer(
        APP,
        config=config,
        env=env,
        cwd=HERE,
        extra_args=["--no-control-socket"],
        **kwargs,
    )


def calls(reads: int, writes: int) -> list[tuple[str, str, Any]]:
    """``reads`` GET /read and ``writes`` POST /write, the writes spread evenly."""
    total = reads + writes
    out: list[tuple[str, str, Any]] = []
    for i in range(total):
        if (i + 1) * writes // total > i * writes // total:
            out.append(("POST", "/write", {"body": f"note {i}"}))
        else:
            out.append(("GET", "/read", None))
    return out


def sessions_by_pid(responses: list[Response]) -> dict[int, set[str]]:
    by_pid: dict[int, set[str]] = defaultdict(set)
    for response in responses:
        body = response.json()
        by_pid[body["pid"]].add(body["session"])
    return dict(by_pid)


def run(
    srv: GunicornServer,
    reads: int,
    writes: int,
    concurrency: int,
) -> tuple[list[Response], dict[str, Any]]:
    """Start, hammer, read one worker's stats, stop; returns responses and those stats."""
    srv.start(ready_path="/health")
    try:
        responses = hammer(srv.port, calls(reads, writes), concurrency, one_at_a_time=is_write)
        stats = request(srv.port, "GET", "/stats").json()
    finally:
        code = srv.stop()
    failed = [(r.status, r.body[:300]) for r in responses if r.status != 200]
    assert not failed, f"{len(failed)} requests failed, e.g. {failed[:3]}\n{srv.log()[-3000:]}"
    assert code == 0, srv.log()[-3000:]
    assert "Traceback" not in srv.log(), srv.log()[-5000:]
    return responses, stats


def count_notes(make_manager: Callable[..., PoolManager]) -> int:
    rows = make_manager(POOL_SIZE=1).call(lambda h: h.execute_sql("SELECT COUNT(*) FROM notes"))
    return int(rows[0][0])


@pytest.mark.parametrize("preload", [False, True], ids=["no-preload", "preload"])
def test_sync_workers(
    emulator: Any,
    database_id: str,
    server_sessions: Callable[[], list[Any]],
    make_manager: Callable[..., PoolManager],
    preload: bool,
) -> None:
    srv = server(emulator, database_id, pool_size=2, workers=2, preload=preload)
    responses, _ = run(srv, reads=70, writes=30, concurrency=8)
    by_pid = sessions_by_pid(responses)
    assert len(by_pid) == 2, by_pid
    first, second = by_pid.values()
    assert not first & second, f"workers shared sessions: {by_pid}"
    assert all(len(ids) <= 2 for ids in by_pid.values()), by_pid  # each its own pool
    assert server_sessions() == []
    assert count_notes(make_manager) == 30


def test_threads(
    emulator: Any,
    database_id: str,
    server_sessions: Callable[[], list[Any]],
    make_manager: Callable[..., PoolManager],
) -> None:
    srv = server(emulator, database_id, pool_size=4, workers=1, threads=4)
    responses, stats = run(srv, reads=30, writes=10, concurrency=8)
    (ids,) = sessions_by_pid(responses).values()
    assert len(ids) <= 4
    assert stats["in_use"] == 0 and stats["max_in_use"] <= 4 and stats["timeouts"] == 0
    assert server_sessions() == []
    assert count_notes(make_manager) == 10


@pytest.mark.parametrize("preload", [False, True], ids=["no-preload", "preload"])
def test_gevent_worker(
    emulator: Any,
    database_id: str,
    server_sessions: Callable[[], list[Any]],
    make_manager: Callable[..., PoolManager],
    preload: bool,
) -> None:
    """The core hooks switch gRPC to gevent polling in the worker (``init_gevent()``)."""
    srv = server(
        emulator,
        database_id,
        pool_size=4,
        workers=1,
        worker_class="gevent",
        preload=preload,
        config="python:spanner_pools.gunicorn",
    )
    responses, stats = run(srv, reads=30, writes=10, concurrency=8)
    (ids,) = sessions_by_pid(responses).values()
    assert len(ids) <= 4
    assert stats["in_use"] == 0 and stats["timeouts"] == 0
    if not preload:  # the hooks module imports no Google/gRPC module before gevent patches
        assert "MonkeyPatchWarning" not in srv.log(), srv.log()[-3000:]
    assert server_sessions() == []
    assert count_notes(make_manager) == 10

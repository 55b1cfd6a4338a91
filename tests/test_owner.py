"""Process labels on pooled sessions, and the reaper: it deletes the sessions of dead processes
of this host (a dead PID, or a PID reused by another process) and nothing else."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from typing import Any

from spanner_pools import PoolManager, reaper
from spanner_pools._master_exit import shell_command
from spanner_pools.owner import (
    HOST_KEY,
    PID_KEY,
    START_KEY,
    alive,
    host_label,
    process_labels,
    reap,
    start_time,
)


def test_host_label_is_a_valid_label_value() -> None:
    label = re.compile(r"^[-_a-z0-9]{1,63}$")
    assert host_label("Web-01.Example.COM").startswith("web-01-example-com-")
    long = host_label("h" * 100)
    assert label.match(long) and long.startswith("h" * 50 + "-")
    assert host_label("h" * 100) != host_label("h" * 99)  # the hash covers the whole name
    assert host_label("").startswith("unknown-")
    assert host_label() == host_label()


def test_alive_tells_dead_and_reused_pids() -> None:
    me = os.getpid()
    assert alive(me, start_time(me))
    assert not alive(me, "1")  # same PID, another start time: another process
    child = subprocess.Popen(["sleep", "30"])
    started = start_time(child.pid)
    assert alive(child.pid, started)
    child.kill()
    child.wait()
    assert not alive(child.pid, started)


def _create(database: Any, labels: dict[str, str]) -> str:
    response = database.spanner_api.batch_create_sessions(
        request={
            "database": database.name,
            "session_count": 1,
            "session_template": {"labels": labels},
        }
    )
    return str(response.session[0].name)


def test_reap_deletes_only_dead_processes_sessions(
    make_manager: Callable[..., PoolManager],
    server_sessions: Callable[[], list[Any]],
    admin_client: Any,
    database_id: str,
) -> None:
    manager = make_manager(POOL_SIZE=2, LABELS={"team": "web"})
    manager.open()
    ours = {s.name for s in server_sessions()}
    assert len(ours) == 2
    for session in server_sessions():
        assert dict(session.labels) == {"team": "web", **process_labels()}

    database = admin_client.instance("test-instance").database(database_id)
    host = host_label()
    live = subprocess.Popen(["sleep", "60"])
    dead = subprocess.Popen(["true"])
    dead.wait()
    try:
        keep = {
            _create(
                database,
                {HOST_KEY: host, PID_KEY: str(live.pid), START_KEY: start_time(live.pid) or "0"},
            ),
            _create(database, {HOST_KEY: "other-host", PID_KEY: str(dead.pid), START_KEY: "5"}),
            _create(database, {"team": "web"}),  # not ours at all
        }
        gone = {
            _create(database, {HOST_KEY: host, PID_KEY: str(dead.pid), START_KEY: "5"}),
            _create(database, {HOST_KEY: host, PID_KEY: str(os.getpid()), START_KEY: "1"}),
        }
        assert reap(manager.database) == 2
        left = {s.name for s in server_sessions()}
        assert left == ours | keep
        assert not left & gone
        with manager.handle() as s:  # the pool is untouched
            assert s.execute_sql("SELECT 1") == [[1]]
    finally:
        live.kill()
        live.wait()
    for name in keep:
        database.spanner_api.delete_session(name=name)


def test_reaper_process_deletes_dead_processes_sessions(
    make_manager: Callable[..., PoolManager],
    server_sessions: Callable[[], list[Any]],
    admin_client: Any,
    database_id: str,
) -> None:
    """``python -m spanner_pools.reaper``, as a forking master starts it: the settings go
    through stdin (never argv), and it deletes what dead processes left, nothing live."""
    manager = make_manager(POOL_SIZE=1)  # never opened: as in a master, no channel here
    database = admin_client.instance("test-instance").database(database_id)
    host = host_label()
    dead = subprocess.Popen(["true"])
    dead.wait()
    me = {HOST_KEY: host, PID_KEY: str(os.getpid()), START_KEY: start_time(os.getpid()) or "0"}
    keep = _create(database, me)
    for start in (reaper.spawn, reaper.run):
        gone = _create(database, {HOST_KEY: host, PID_KEY: str(dead.pid), START_KEY: "5"})
        result = start([manager])
        if start is reaper.spawn:
            assert result is not None
            _, status = os.waitpid(result, 0)
            result = os.waitstatus_to_exitcode(status)
        assert result == 0
        left = {s.name for s in server_sessions()}
        assert keep in left and gone not in left
    argv, _ = reaper.command() or ([], {})
    assert database_id not in " ".join(argv) and argv[1:] == ["-m", "spanner_pools.reaper"]
    database.spanner_api.delete_session(name=keep)


def test_master_exit_command_runs_only_in_the_master(tmp_path: Any) -> None:
    """Workers inherit uWSGI's master exit handler: its command does nothing elsewhere."""
    marker = tmp_path / "ran"
    argv = ["sh", "-c", f"cat > {marker}"]
    read_end, write_end = os.pipe()
    os.write(write_end, b"settings")
    os.close(write_end)
    try:
        for master, expected in ((1, False), (os.getpid(), True)):
            line = shell_command(master, read_end, argv, "/nowhere")
            subprocess.run(["sh", "-c", line], check=True, pass_fds=(read_end,))
            assert marker.exists() is expected
    finally:
        os.close(read_end)
    assert marker.read_text() == "settings"

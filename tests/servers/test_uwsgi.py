"""uWSGI serving the Flask example site through ``spanner_pools.uwsgi.install()``: pools open
before the first request (also with ``--lazy-apps``), every stop an operator uses that lets a
worker finish leaves no session, and a missing ``--master`` is a clear ConfigurationError."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pytest

from spanner_pools.emulator import Emulator
from spanner_pools.owner import PID_KEY
from tests.e2e import hammer
from tests.reliability.harness import Admin, failures
from tests.waiting import wait_for

from .harness import BIN, BackgroundLoad, Server, mixed_load, site_env

POOL_SIZE = 2
WORKERS = 2


def uwsgi(
    emulator: Emulator,
    db: str,
    *options: str,
    master: bool = True,
    module: str = "example_site.uwsgi_app:application",
) -> Server:
    fifo = Path(tempfile.mkdtemp(prefix="uwsgi-fifo-")) / "master.fifo"
    args = [str(BIN / "uwsgi"), "--http-socket", "127.0.0.1:{port}", "--home", sys.prefix]
    args += ["--module", module, "--need-app", "--die-on-term"]
    args += ["--processes", str(WORKERS), "--enable-threads"]
    args += ["--master", "--master-fifo", str(fifo)] if master else []  # a FIFO implies master
    server = Server("uwsgi", [*args, *options], site_env(emulator.host, db, POOL_SIZE))
    server.fifo = fifo  # type: ignore[attr-defined]
    return server


def fifo_quit(server: Server) -> int:
    """Graceful stop: ``q`` to the master FIFO (sent again, at most twice more, if uWSGI is
    still running after 30 s: a repeated ``q`` is harmless); returns the exit code."""
    fifo = server.fifo  # type: ignore[attr-defined]
    assert server.process is not None
    for _ in range(3):
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # ENXIO if the master is not reading
        try:
            os.write(fd, b"q")
        finally:
            os.close(fd)
        try:
            return server.process.wait(30)
        except subprocess.TimeoutExpired:
            continue
    return server.wait(10)


def wait_for_sessions(admin: Admin, db: str, count: int, timeout: float = 60.0) -> int:
    """Poll ListSessions until ``count`` sessions exist (bounded); returns the last count."""
    deadline = time.monotonic() + timeout
    seen = len(admin.session_names(db))
    while seen != count and time.monotonic() < deadline:
        time.sleep(0.2)
        seen = len(admin.session_names(db))
    return seen


def sessions_by_pid(admin: Admin, db: str) -> dict[int, set[str]]:
    """ListSessions, grouped by the PID label of the process that created each session."""
    database = admin._database(db)
    found: dict[int, set[str]] = defaultdict(set)
    for session in database.spanner_api.list_sessions(database=database.name):
        found[int(dict(session.labels).get(PID_KEY, "0"))].add(session.name)
    return dict(found)


def worker_pids(server: Server) -> set[int]:
    """The live children of uWSGI's master (its workers), from /proc."""
    assert server.process is not None
    master = str(server.process.pid)
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if fields[1].decode() == master and fields[0] != b"Z":
            found.add(int(entry))
    return found


def load(server: Server) -> None:
    responses = hammer(server.port, mixed_load(writes=4, reads=12), concurrency=4)
    assert failures(responses) == [], server.log()[-3000:]


@pytest.mark.e2e
@pytest.mark.parametrize("mode", ["prefork", "lazy-apps"])
def test_pools_open_before_the_first_request(
    mode: str, emulator: Emulator, admin: Admin, example_db: str
) -> None:
    options = ["--lazy-apps"] if mode == "lazy-apps" else []
    with uwsgi(emulator, example_db, *options) as server:
        server.start(ready_path=None)  # no request before the count
        assert wait_for_sessions(admin, example_db, WORKERS * POOL_SIZE) == WORKERS * POOL_SIZE
        load(server)
        fifo_quit(server)  # the documented stop (SIGTERM with --lazy-apps once left sessions)
    assert admin.session_names(example_db) == [], server.log()[-4000:]


@pytest.mark.e2e
@pytest.mark.parametrize(
    "stop",
    [
        "SIGTERM-idle",
        "SIGINT-idle",
        "fifo-q-under-load",
        "gevent-fifo-q-under-load",
        "gevent-SIGTERM-under-load",
        "gevent-SIGINT-idle",
    ],
)
def test_stop_leaves_no_session(
    stop: str, emulator: Emulator, admin: Admin, example_db: str
) -> None:
    options = ["--gevent", "8"] if "gevent" in stop else []
    with uwsgi(emulator, example_db, *options) as server:
        server.start()
        load(server)
        assert wait_for_sessions(admin, example_db, WORKERS * POOL_SIZE) == WORKERS * POOL_SIZE
        background = None
        if stop.endswith("under-load"):
            background = BackgroundLoad(server.port, mixed_load(writes=10, reads=30), 4).start(8)
        if "fifo-q" in stop:
            fifo_quit(server)
        else:
            server.stop(signal.SIGINT if "SIGINT" in stop else signal.SIGTERM)
        if background is not None:
            answered = background.join()
            assert [r.status for r in answered if r.status >= 500] == [], server.log()[-3000:]
    left = admin.session_names(example_db)
    assert left == [], f"{len(left)} sessions left:\n{server.log()[-4000:]}"


@pytest.mark.e2e
def test_without_master_is_a_configuration_error(
    emulator: Emulator, admin: Admin, example_db: str
) -> None:
    with uwsgi(emulator, example_db, master=False) as server:
        with pytest.raises(RuntimeError, match="exited early"):
            server.start(timeout=60)
        log = server.log()
    assert "ConfigurationError" in log and "add --master" in log, log[-3000:]
    assert admin.session_names(example_db) == []


@pytest.mark.e2e
def test_opened_before_fork_is_warned_once(
    emulator: Emulator, admin: Admin, example_db: str
) -> None:
    module = "tests.servers.uwsgi_preopened:application"
    with uwsgi(emulator, example_db, module=module) as server:
        server.start()
        load(server)
        assert wait_for_sessions(admin, example_db, (WORKERS + 1) * POOL_SIZE) == 6
        fifo_quit(server)
        log = server.log()
    assert log.count("before fork") == 1, log[-4000:]


@pytest.mark.e2e
@pytest.mark.parametrize("mode", ["prefork", "gevent"])
def test_max_requests_recycling_deletes_every_recycled_pool(
    mode: str, emulator: Emulator, admin: Admin, example_db: str
) -> None:
    """Workers recycled by --max-requests (also gevent ones, which skip uwsgi.atexit) leave no
    pool behind: the server then holds exactly the live workers' pools, and 0 after the stop."""
    options = ["--max-requests", "4", "--min-worker-lifetime", "0"]
    options += ["--gevent", "8"] if mode == "gevent" else []
    with uwsgi(emulator, example_db, *options) as server:
        server.start()
        for _ in range(20):  # bounded: until every worker was recycled about twice
            responses = hammer(server.port, mixed_load(writes=2, reads=6), concurrency=2)
            assert failures(responses) == [], server.log()[-3000:]
            if server.log().count("is done. Seeya!") >= 2 * WORKERS:
                break
        assert server.log().count("is done. Seeya!") >= 2 * WORKERS, server.log()[-3000:]

        def only_live_pools() -> bool:
            by_pid = sessions_by_pid(admin, example_db)
            live = worker_pids(server)
            return (
                len(live) == WORKERS
                and set(by_pid) == live
                and all(len(v) == POOL_SIZE for v in by_pid.values())
            )

        wait_for(
            only_live_pools,
            60,
            interval=0.25,
            detail=lambda: (
                f"{sessions_by_pid(admin, example_db)} live={worker_pids(server)}\n"
                f"{server.log()[-3000:]}"
            ),
        )
        fifo_quit(server)
    left = admin.session_names(example_db)
    assert left == [], f"{len(left)} sessions left:\n{server.log()[-4000:]}"

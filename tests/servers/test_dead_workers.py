"""Workers that die without cleaning up (SIGKILL, a uWSGI worker stopped while busy): the
surviving master (uWSGI at exit, gunicorn's child_exit) or the next worker on the host deletes
their sessions within seconds, and nothing of a live worker."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable

import pytest

from spanner_pools.emulator import Emulator
from tests.e2e import GunicornServer, hammer
from tests.reliability.harness import Admin, failures
from tests.waiting import wait_for

from .harness import ASGI_APP, FLASK_FACTORY, BackgroundLoad, Server, mixed_load, site_env
from .test_stop import gunicorn
from .test_uwsgi import sessions_by_pid, uwsgi

POOL_SIZE = 2


def poll(condition: Callable[[], bool], server: Server | GunicornServer) -> None:
    """Wait (bounded, 30 s) for ``condition``, listing sessions at most every 0.25 s; a
    failure shows the end of the server's log."""
    wait_for(condition, 30.0, interval=0.25, detail=lambda: server.log()[-3000:])


@pytest.mark.e2e
def test_gunicorn_worker_killed_under_load(
    emulator: Emulator, admin: Admin, example_db: str
) -> None:
    env = site_env(emulator.host, example_db, POOL_SIZE)
    with GunicornServer(f"{FLASK_FACTORY}()", workers=2, env=env) as server:
        for _ in range(10):
            assert failures(hammer(server.port, mixed_load(4, 12), concurrency=4)) == []
            before = sessions_by_pid(admin, example_db)
            if len(before) == 2:
                break
        assert sorted(len(v) for v in before.values()) == [POOL_SIZE, POOL_SIZE], before
        victim, survivor = sorted(before)
        load = BackgroundLoad(server.port, mixed_load(10, 30), 4).start(4)
        os.kill(victim, signal.SIGKILL)
        load.join()
        poll(lambda: victim not in sessions_by_pid(admin, example_db), server)
        after = sessions_by_pid(admin, example_db)
        assert after[survivor] == before[survivor]  # the live worker's sessions are intact
        poll(lambda: len(sessions_by_pid(admin, example_db)) == 2, server)  # its replacement
        assert "left by dead processes" in server.log()
    assert admin.session_names(example_db) == [], server.log()[-3000:]


@pytest.mark.e2e
def test_gunicorn_preload_worker_killed_at_the_stop_is_reaped_by_the_master(
    emulator: Emulator, admin: Admin, example_db: str
) -> None:
    """With --preload the master knows the pools: a worker SIGKILLed just before the final stop
    (no replacement serves) is reaped by the master's child_exit / on_exit reaper process."""
    env = site_env(emulator.host, example_db, POOL_SIZE)
    with Server("gunicorn", gunicorn("--preload"), env) as server:
        server.start()
        for _ in range(10):
            assert failures(hammer(server.port, mixed_load(4, 12), concurrency=4)) == []
            if len(sessions_by_pid(admin, example_db)) == 2:
                break
        before = sessions_by_pid(admin, example_db)
        assert sorted(len(v) for v in before.values()) == [POOL_SIZE, POOL_SIZE], before
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        server.stop(signal.SIGTERM)
        log = server.log()
    left = admin.session_names(example_db)
    assert left == [], f"{len(left)} sessions left:\n{log[-4000:]}"
    assert "left by dead processes" in log, log[-3000:]


@pytest.mark.e2e
@pytest.mark.parametrize(
    "stop",
    ["SIGTERM", "SIGINT", "gevent-SIGTERM", "gevent-SIGINT"],
)
def test_uwsgi_busy_stop_leaves_no_session(
    stop: str, emulator: Emulator, admin: Admin, example_db: str
) -> None:
    """Busy workers skip every Python hook; the master, once they are buried, runs the
    reaper and waits for it: nothing is left when uWSGI has exited."""
    options = ["--gevent", "8"] if stop.startswith("gevent") else []
    with uwsgi(emulator, example_db, *options) as server:
        server.start()
        assert failures(hammer(server.port, mixed_load(4, 12), concurrency=4)) == []
        poll(lambda: len(sessions_by_pid(admin, example_db)) == 2, server)
        load = BackgroundLoad(server.port, mixed_load(20, 60), 4).start(8)
        # --die-on-term: SIGTERM, like SIGINT, kills the workers at once
        server.stop(signal.SIGINT if stop.endswith("SIGINT") else signal.SIGTERM)
        load.join()
    left = admin.session_names(example_db)
    assert left == [], f"{len(left)} sessions left:\n{server.log()[-4000:]}"


@pytest.mark.e2e
def test_uwsgi_lazy_apps_busy_stop_is_cleaned_up_at_the_next_start(
    emulator: Emulator, admin: Admin, example_db: str
) -> None:
    """With --lazy-apps the master has no pools to reap for: the next start deletes them."""
    with uwsgi(emulator, example_db, "--lazy-apps") as first:
        first.start()
        assert failures(hammer(first.port, mixed_load(4, 12), concurrency=4)) == []
        poll(lambda: len(sessions_by_pid(admin, example_db)) == 2, first)
        load = BackgroundLoad(first.port, mixed_load(20, 60), 4).start(8)
        first.stop(signal.SIGTERM)  # --die-on-term: busy workers skip every Python hook
        load.join()
    old = set(sessions_by_pid(admin, example_db))
    with uwsgi(emulator, example_db, "--lazy-apps") as second:
        second.start()

        def replaced() -> bool:
            now = sessions_by_pid(admin, example_db)
            return not old & set(now) and sorted(map(len, now.values())) == [2, 2]

        poll(replaced, second)  # both workers of the second are up
        second.stop(signal.SIGTERM)  # idle now: every worker runs its exit hooks
    assert admin.session_names(example_db) == [], second.log()[-3000:]


@pytest.mark.e2e
def test_uvicorn_worker_killed_is_cleaned_up_by_its_replacement(
    emulator: Emulator, admin: Admin, example_db: str
) -> None:
    args = [sys.executable, "-m", "uvicorn", ASGI_APP, "--host", "127.0.0.1", "--port", "{port}"]
    env = site_env(emulator.host, example_db, POOL_SIZE)
    with Server("uvicorn", [*args, "--workers", "2"], env) as server:
        server.start()
        poll(lambda: len(sessions_by_pid(admin, example_db)) == 2, server)
        before = sessions_by_pid(admin, example_db)
        victim, survivor = sorted(before)
        os.kill(victim, signal.SIGKILL)  # uvicorn's supervisor starts a new worker
        poll(lambda: victim not in sessions_by_pid(admin, example_db), server)
        assert sessions_by_pid(admin, example_db)[survivor] == before[survivor]
        poll(lambda: len(sessions_by_pid(admin, example_db)) == 2, server)
        assert failures(hammer(server.port, mixed_load(4, 12), concurrency=4)) == []
        server.stop(signal.SIGTERM)
    assert admin.session_names(example_db) == [], server.log()[-3000:]

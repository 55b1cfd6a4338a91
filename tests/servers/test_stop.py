"""Each real server serves the example site, is stopped the way operators stop it, idle or
under load, and leaves no session on the emulator (counted with ListSessions)."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from spanner_pools.emulator import Emulator
from tests.reliability.harness import Admin, failures

from .harness import ASGI_APP, BIN, FLASK_FACTORY, BackgroundLoad, Server, mixed_load, site_env

PY = sys.executable
POOL_SIZE = 2


@dataclass(frozen=True)
class Case:
    name: str
    processes: int  # serving processes, each with its own pool
    command: Callable[[], list[str]]
    env: tuple[tuple[str, str], ...] = ()
    #: False for servers whose SIGTERM is abrupt (no graceful stop of their own): requests in
    #: flight then may fail (reset, or 503/500 once the pools are closed) as without us.
    graceful: bool = True


def gunicorn(*options: str) -> list[str]:
    """gunicorn with the library's hooks, 2 workers, serving the Flask site."""
    args = [PY, "-m", "gunicorn", "-b", "127.0.0.1:{port}", "-w", "2", "--no-control-socket"]
    return [*args, "-c", "python:spanner_pools.gunicorn", *options, f"{FLASK_FACTORY}()"]


CASES = [
    Case("gunicorn-sync", 2, lambda: gunicorn()),
    Case("gunicorn-gthread", 2, lambda: gunicorn("--threads", "4")),
    Case("gunicorn-gevent", 2, lambda: gunicorn("-k", "gevent", "--worker-connections", "8")),
    Case(
        "uvicorn",
        1,
        lambda: [PY, "-m", "uvicorn", ASGI_APP, "--host", "127.0.0.1", "--port", "{port}"],
    ),
    Case(
        "uvicorn-workers-2",
        2,
        lambda: (
            [PY, "-m", "uvicorn", ASGI_APP, "--host", "127.0.0.1", "--port", "{port}"]
            + ["--workers", "2"]
        ),
    ),
    Case(
        "gunicorn-uvicorn-worker",
        2,
        lambda: (
            [PY, "-m", "gunicorn", "-b", "127.0.0.1:{port}", "-w", "2", "--no-control-socket"]
            + [
                "-k",
                "uvicorn_worker.UvicornWorker",
                "-c",
                "python:spanner_pools.gunicorn",
                ASGI_APP,
            ]
        ),
    ),
    Case("hypercorn", 1, lambda: [PY, "-m", "hypercorn", "--bind", "127.0.0.1:{port}", ASGI_APP]),
    Case("daphne", 1, lambda: [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", "{port}", ASGI_APP]),
    Case(
        "waitress",
        1,
        lambda: (
            [PY, "-m", "waitress", "--listen=127.0.0.1:{port}", "--threads=4"]
            + ["--call", FLASK_FACTORY]
        ),
        graceful=False,
    ),
    Case(
        "flask-run",
        1,
        lambda: (
            [PY, "-m", "flask", "--app", f"{FLASK_FACTORY}()", "run", "--host", "127.0.0.1"]
            + ["--port", "{port}"]
        ),
        graceful=False,
    ),
]


def serve(case: Case, emulator: Emulator, db: str) -> Server:
    env = site_env(emulator.host, db, POOL_SIZE, **dict(case.env))
    return Server(case.name, case.command(), env)


def load_until_all_serve(server: Server, admin: Admin, db: str, processes: int) -> int:
    """Bounded mixed load (read-write transactions too); every request must succeed. Returns
    the sessions the server then holds, at least one pool per serving process."""
    from tests.e2e import hammer

    sessions = 0
    for _ in range(10):
        responses = hammer(server.port, mixed_load(writes=4, reads=12), concurrency=4)
        assert failures(responses) == [], server.log()[-3000:]
        sessions = len(admin.session_names(db))
        if sessions >= processes * POOL_SIZE:
            return sessions
    raise AssertionError(f"only {sessions} sessions after the load:\n{server.log()[-3000:]}")


#: Stops that cannot delete every session, for reasons outside the library (docs/deploy.md).
#: None today: gunicorn's quick shutdown (SIGINT, then SIGQUIT to the workers, which
#: UvicornWorker ignores) deletes them through the library's SIGQUIT hook, and daphne's
#: cancelled requests (sessions never given back) through close() deleting what is still lent.
NOT_CLEAN: set[tuple[str, str]] = set()
STOPS = ["SIGTERM", "SIGINT", "SIGTERM-under-load"]
MATRIX = [(c, s) for c in CASES for s in STOPS if (c.name, s) not in NOT_CLEAN]


@pytest.mark.e2e
@pytest.mark.parametrize(("case", "stop"), MATRIX, ids=[f"{c.name}-{s}" for c, s in MATRIX])
def test_stop_leaves_no_session(
    case: Case, stop: str, emulator: Emulator, admin: Admin, example_db: str
) -> None:
    sig = signal.SIGINT if stop == "SIGINT" else signal.SIGTERM
    with serve(case, emulator, example_db) as server:
        server.start()
        serving = load_until_all_serve(server, admin, example_db, case.processes)
        assert serving == case.processes * POOL_SIZE, server.log()[-3000:]
        load = None
        if stop.endswith("under-load"):
            load = BackgroundLoad(server.port, mixed_load(writes=10, reads=30), 4).start(8)
        server.stop(sig)
        if load is not None:
            answered = load.join()
            assert len(answered) >= 8
            if case.graceful:  # answered or refused by the stopping server, never a 5xx
                assert [r.status for r in answered if r.status >= 500] == [], server.log()[-3000:]
    left = admin.session_names(example_db)
    assert left == [], f"{len(left)} of {serving} sessions left:\n{server.log()[-4000:]}"

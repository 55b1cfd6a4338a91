"""A real Celery worker (prefork, filesystem broker: no network service) runs read-write tasks
with ``spanner_pools.celery.install()``; a warm shutdown (SIGTERM) and child recycling
(``--max-tasks-per-child``) leave no session; ``open_at_start=False`` opens only on use."""

from __future__ import annotations

import json
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from spanner_pools.emulator import Emulator
from tests.conftest import INSTANCE, PROJECT
from tests.reliability.harness import Admin

from .harness import Server

CHILDREN = 2
POOL_SIZE = 2


def client(folder: Path) -> Any:
    """A Celery app that only sends tasks and reads results, through the same folders."""
    from celery import Celery

    app = Celery("sender")
    app.conf.update(
        broker_url="filesystem://",
        broker_transport_options={
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "store_processed": False,
            "control_folder": str(folder / "control"),  # else ./control in the working directory
        },
        result_backend=f"file://{folder / 'results'}",
    )
    return app


def worker(emulator: Emulator, db: str, folder: Path, *options: str, eager: bool) -> Server:
    for sub in ("queue", "processed", "results"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    spanner = {
        "PROJECT": PROJECT,
        "INSTANCE": INSTANCE,
        "DATABASE": db,
        "EMULATOR_HOST": emulator.host,
        "POOL_SIZE": POOL_SIZE,
    }
    env = {
        "CELERY_TEST_FOLDER": str(folder),
        "CELERY_SPANNER": json.dumps(spanner),
        "CELERY_OPEN_AT_START": "1" if eager else "0",
    }
    args = [sys.executable, "-m", "celery", "-A", "tests.servers.celery_app", "worker"]
    args += ["-P", "prefork", "-c", str(CHILDREN), "--loglevel", "INFO"]
    args += ["--without-gossip", "--without-mingle", "--without-heartbeat", *options]
    return Server("celery", args, env)


def run_tasks(folder: Path, count: int) -> list[dict[str, Any]]:
    app = client(folder)
    results = [
        app.send_task("tests.servers.celery_app.write_note", args=[f"n{i}"]) for i in range(count)
    ]
    return [r.get(timeout=120, interval=0.1) for r in results]


@pytest.mark.e2e
@pytest.mark.parametrize("mode", ["eager", "lazy-max-tasks-per-child"])
def test_celery_worker_leaves_no_session(
    mode: str, emulator: Emulator, admin: Admin, example_db: str
) -> None:
    folder = Path(tempfile.mkdtemp(prefix="celery-"))
    eager = mode == "eager"
    options = [] if eager else ["--max-tasks-per-child", "2"]
    with worker(emulator, example_db, folder, *options, eager=eager) as server:
        server.launch()
        server.wait_for_log("ready.")
        if eager:  # every child opened its pool in worker_process_init, before any task
            deadline = time.monotonic() + 60
            while len(admin.session_names(example_db)) < CHILDREN * POOL_SIZE:
                assert time.monotonic() < deadline, server.log()[-3000:]
                time.sleep(0.2)
        else:
            time.sleep(1)  # a child that opened at start would have done so by now
            assert admin.session_names(example_db) == []
        done = run_tasks(folder, 6)
        assert sorted(r["count"] for r in done)[-1] == 6
        assert len(admin.session_names(example_db)) <= CHILDREN * POOL_SIZE
        if not eager:
            assert len({r["pid"] for r in done}) >= 3  # children were recycled
        server.stop(signal.SIGTERM)
    left = admin.session_names(example_db)
    assert left == [], f"{len(left)} sessions left:\n{server.log()[-4000:]}"

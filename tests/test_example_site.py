"""End to end: the demo runner starts the emulator and the site, answers, and stops cleanly.

Runs ``python -m example_site.run`` (what ``scripts/demo`` execs) as a subprocess on a free
loopback port, exercises every endpoint, sends SIGINT and checks that the runner exits 0
with no emulator or gunicorn process left.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from spanner_pools.emulator import Emulator, free_port

from .e2e import ROOT, request

pytestmark = pytest.mark.e2e


class Demo:
    """One ``python -m example_site.run`` process and its output."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.log_path = Path(tempfile.mkstemp(prefix="demo-", suffix=".log")[1])
        environ = {k: v for k, v in os.environ.items() if not k.startswith("SPANNER_")}
        environ.update({"SPANNER_POOL_SIZE": "2", **(env or {})})
        if "SPANNER_EMULATOR_BIN" in os.environ and "SPANNER_EMULATOR_BIN" not in (env or {}):
            environ["SPANNER_EMULATOR_BIN"] = os.environ["SPANNER_EMULATOR_BIN"]
        command = [sys.executable, "-m", "example_site.run", "--port", str(self.port)]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [*command, "--workers", "2", *args],
                cwd=ROOT,
                env=environ,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, attempts: int = 600) -> None:
        """Until the runner prints its banner (bounded: ``attempts`` polls 0.1 s apart)."""
        for _ in range(attempts):
            if "Press Ctrl-C to stop" in self.log():
                return
            assert self.process.poll() is None, f"the runner exited early:\n{self.log()}"
            time.sleep(0.1)
        raise AssertionError(f"the runner never became ready:\n{self.log()}")

    def interrupt(self) -> int:
        """SIGINT, as Ctrl-C sends it, and the exit status."""
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(90)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"the runner did not stop on SIGINT:\n{self.log()}") from None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def demos() -> Iterator[list[Demo]]:
    started: list[Demo] = []
    yield started
    for demo in started:
        demo.kill()


def _live_processes_mentioning(*needles: str) -> list[str]:
    """Command lines of live (non-zombie) processes containing any of ``needles``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError):
            continue
        if state != "Z" and any(needle in cmdline for needle in needles):
            found.append(f"{entry.name}: {cmdline}")
    return found


def _running(pid: int, needle: str) -> bool:
    """True if ``pid`` is a live (non-zombie) process whose command line has ``needle``."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, IndexError):
        return False
    return state != "Z" and needle in cmdline


def _exercise(port: int) -> set[int]:
    """Every endpoint once (and a bad request); returns the worker PIDs seen."""
    health = request(port, "GET", "/health")
    assert health.status == 200, health.body
    assert health.json()["status"] == "ok"

    created = request(port, "POST", "/notes", {"body": "hello from the test"})
    assert created.status == 201, created.body
    note_id = created.json()["id"]
    assert created.json()["inserted"] == 1

    bulk = request(port, "POST", "/notes/bulk", {"bodies": ["one", "two", "three"]})
    assert bulk.status == 201, bulk.body
    assert bulk.json()["inserted"] == 3
    bulk_ids = bulk.json()["ids"]

    listed = request(port, "GET", "/notes?limit=100")
    assert listed.status == 200, listed.body
    notes = {note["id"]: note for note in listed.json()["notes"]}
    assert {note_id, *bulk_ids} <= set(notes)
    assert notes[note_id]["body"] == "hello from the test"
    assert notes[note_id]["created"]  # the commit timestamp was written

    bad = request(port, "POST", "/notes", {"text": "no body key"})
    assert bad.status == 400, bad.body
    assert "body" in bad.json()["error"]

    pids = {health.json()["pid"]}
    for _ in range(4):  # either worker may answer; each reports its own pool
        stats = request(port, "GET", "/stats")
        assert stats.status == 200, stats.body
        data = stats.json()
        assert data["opened"] is True
        assert data["size"] == 2
        assert data["sessions"] == 2
        assert data["in_use"] == 0
        assert data["pool"] == "pinging"
        for key in ("pings", "checkouts", "available", "pinger_alive"):
            assert key in data
        pids.add(data["pid"])
    return pids


@pytest.mark.parametrize("site", ["flask", "django"])
def test_demo_serves_every_endpoint_and_stops_on_sigint(site: str, demos: list[Demo]) -> None:
    demo = Demo(*(["--django"] if site == "django" else []))
    demos.append(demo)
    demo.wait_ready()
    log = demo.log()
    emulator = re.search(r"Spanner emulator: (127\.0\.0\.1:\d+) \(pid (\d+)\)", log)
    gunicorn = re.search(r"gunicorn: pid (\d+)", log)
    assert emulator and gunicorn, log
    assert f"http://127.0.0.1:{demo.port}/" in log
    expected = "Django" if site == "django" else "Flask"
    assert f"The {expected} notes site is up" in log

    worker_pids = _exercise(demo.port)

    assert demo.interrupt() == 0, demo.log()
    assert "Traceback" not in demo.log(), demo.log()
    leftovers = _live_processes_mentioning(emulator.group(1), f"127.0.0.1:{demo.port}")
    assert leftovers == [], leftovers
    assert not _running(int(emulator.group(2)), "emulator_main")
    for pid in {int(gunicorn.group(1)), *worker_pids}:
        assert not _running(pid, "gunicorn"), f"gunicorn process {pid} is still running"
    assert request(demo.port, "GET", "/health", timeout=2).status == 0  # nothing listens


def test_demo_uses_a_running_emulator_and_leaves_it_running(
    emulator: Emulator, demos: list[Demo]
) -> None:
    database = "demo" + uuid.uuid4().hex[:8]
    demo = Demo(env={"SPANNER_EMULATOR_HOST": emulator.host, "SPANNER_DATABASE": database})
    demos.append(demo)
    demo.wait_ready()
    assert "Spanner emulator:" not in demo.log()  # none started
    assert f"SPANNER_EMULATOR_HOST={emulator.host}" in demo.log()
    created = request(demo.port, "POST", "/notes", {"body": "x"})
    assert created.status == 201, created.body
    assert demo.interrupt() == 0, demo.log()
    assert emulator.process is not None and emulator.process.poll() is None


def test_demo_without_an_emulator_says_how_to_get_one(demos: list[Demo]) -> None:
    demo = Demo(env={"SPANNER_EMULATOR_BIN": "/nonexistent/emulator_main"})
    demos.append(demo)
    assert demo.process.wait(60) == 2
    log = demo.log()
    assert "SPANNER_EMULATOR_BIN='/nonexistent/emulator_main' is not an executable file" in log
    assert _live_processes_mentioning(f"127.0.0.1:{demo.port}") == []

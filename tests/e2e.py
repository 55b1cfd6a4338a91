"""Helpers for end-to-end tests: a real gunicorn server and a small load generator.

Loopback only; every loop is bounded in request count and time.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spanner_pools.emulator import free_port

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str]
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    timeout: float = 30.0,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """One HTTP request to 127.0.0.1:port; a connection error becomes status 0, also one in
    the middle of the response (``IncompleteRead``: a server killed while it answered)."""
    start = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        payload = None if body is None else json.dumps(body).encode()
        hdrs = {"Content-Type": "application/json"} if payload is not None else {}
        hdrs.update(headers or {})
        conn.request(method, path, body=payload, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        return Response(
            resp.status,
            data,
            {k.lower(): v for k, v in resp.getheaders()},
            time.monotonic() - start,
        )
    except (OSError, http.client.HTTPException) as exc:
        return Response(0, str(exc).encode() or repr(exc).encode(), {}, time.monotonic() - start)
    finally:
        conn.close()


def hammer(
    port: int,
    calls: Iterable[tuple[str, str, Any]],
    concurrency: int,
    timeout: float = 30.0,
    *,
    one_at_a_time: Callable[[str, str], bool] | None = None,
) -> list[Response]:
    """Send every ``(method, path, body)`` with ``concurrency`` threads; keep the order.

    Calls for which ``one_at_a_time(method, path)`` is true are sent one at a time (the others
    run beside them at full concurrency): the emulator runs one read-write transaction at a
    time, so concurrent writes get aborted, and enough aborts in a row exhaust the client's
    30 s retry deadline (its backoff is 2, 4, 8, 16 s): luck, not a property of the library.
    """
    lane = threading.Lock()

    def send(method: str, path: str, body: Any) -> Response:
        if one_at_a_time is not None and one_at_a_time(method, path):
            with lane:
                return request(port, method, path, body, timeout)
        return request(port, method, path, body, timeout)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = [pool.submit(send, m, p, b) for m, p, b in calls]
        return [f.result() for f in futures]


def writes(method: str, path: str) -> bool:
    """``one_at_a_time`` for the example sites: every POST is a read-write transaction."""
    return method == "POST"


def wait_serving(
    process: subprocess.Popen[bytes],
    port: int,
    name: str,
    log: Callable[[], str],
    timeout: float,
    ready_path: str | None,
) -> bool:
    """Poll until ``port`` accepts and ``ready_path`` (if given) answers 200; False past
    ``timeout`` (the caller cleans up), RuntimeError with the log if ``process`` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited early:\n{log()[-4000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                pass
        except OSError:
            time.sleep(0.1)
            continue
        if ready_path is None or request(port, "GET", ready_path).status == 200:
            return True
        time.sleep(0.1)
    return False


class GunicornServer:
    """``python -m gunicorn`` on a free loopback port, with the spanner_pools hooks."""

    def __init__(
        self,
        app: str,
        *,
        workers: int = 2,
        threads: int = 1,
        preload: bool = False,
        worker_class: str = "sync",
        config: str | None = "python:spanner_pools.gunicorn",
        env: Mapping[str, str] | None = None,
        extra_args: Sequence[str] = (),
        cwd: Path | str | None = None,
    ) -> None:
        self.port = free_port()
        self.args = [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{self.port}"]
        self.args += ["-w", str(workers), "--threads", str(threads), "-k", worker_class]
        self.args += ["--graceful-timeout", "20", "--log-level", "info"]
        # gunicorn 27 opens one control socket per user: concurrent servers would collide.
        self.args.append("--no-control-socket")
        if config:
            self.args += ["-c", config]
        if preload:
            self.args.append("--preload")
        self.args += [*extra_args, app]
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        self.cwd = str(cwd or ROOT)
        self.log_path = Path(tempfile.mkstemp(prefix="gunicorn-", suffix=".log")[1])
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0, ready_path: str | None = None) -> GunicornServer:
        """Start and wait for the port (and, if given, a 200 from ``ready_path``)."""
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.args, env=self.env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT
            )
        if not wait_serving(self.process, self.port, "gunicorn", self.log, timeout, ready_path):
            self.stop()
            raise RuntimeError(
                f"gunicorn did not become ready in {timeout}s:\n{self.log()[-4000:]}"
            )
        return self

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (graceful: workers run worker_exit) and wait; returns the exit code."""
        if self.process is None:
            return None
        proc, self.process = self.process, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        return proc.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def __enter__(self) -> GunicornServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

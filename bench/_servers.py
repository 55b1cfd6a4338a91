"""Start and stop gunicorn servers for the benchmarks (loopback only)."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from spanner_pools.emulator import free_port

from ._common import ROOT


def get(port: int, path: str, timeout: float = 30.0) -> tuple[int, bytes]:
    """One GET; ``(0, b"")`` if nothing answers."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    except OSError:
        return 0, b""
    finally:
        conn.close()


class Gunicorn:
    """``python -m gunicorn -c <config> -w <workers> <app>`` on a free loopback port."""

    def __init__(
        self,
        app: str,
        *,
        config: str,
        workers: int = 2,
        env: Mapping[str, str] | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.port = free_port()
        self.args = [
            sys.executable, "-m", "gunicorn",
            "-c", config,
            "-b", f"127.0.0.1:{self.port}",
            "-w", str(workers),
            "--log-level", "warning",
            *extra_args,
            app,
        ]  # fmt: skip
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        self.log_path = Path(tempfile.mkstemp(prefix="bench-gunicorn-", suffix=".log")[1])
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Gunicorn:
        """Start without waiting (for cold-start timing)."""
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.args, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
            )
        return self

    def wait_ready(self, path: str = "/health", timeout: float = 60.0) -> Gunicorn:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited early:\n{self.log()[-4000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    pass
            except OSError:
                time.sleep(0.05)
                continue
            if get(self.port, path)[0] == 200:
                return self
            time.sleep(0.05)
        raise RuntimeError(f"gunicorn not ready within {timeout}s:\n{self.log()[-4000:]}")

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def __enter__(self) -> Gunicorn:
        return self.start().wait_ready()

    def __exit__(self, *exc: object) -> None:
        self.stop()

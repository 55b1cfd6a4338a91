"""Real servers of the example site on a free loopback port, stopped the way operators do.

Every server runs in its own process group (``start_new_session``), so whatever it forked is
killed at the end even if a test fails. Loads are bounded in request count and time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from spanner_pools.emulator import free_port
from tests.conftest import INSTANCE, PROJECT
from tests.e2e import ROOT, Response, hammer, wait_serving

BIN = Path(sys.executable).parent
ASGI_APP = "example_site.django_site.asgi:application"
DJANGO_SETTINGS = "example_site.django_site.settings"
FLASK_FACTORY = "example_site.flask_site:create_app"


def site_env(host: str, database: str, pool_size: int, **extra: str) -> dict[str, str]:
    """The example site's ``SPANNER_*`` environment (both the Flask and the Django site)."""
    return {
        "SPANNER_EMULATOR_HOST": host,
        "SPANNER_PROJECT": PROJECT,
        "SPANNER_INSTANCE": INSTANCE,
        "SPANNER_DATABASE": database,
        "SPANNER_POOL_SIZE": str(pool_size),
        "DJANGO_SETTINGS_MODULE": DJANGO_SETTINGS,
        **extra,
    }


class Server:
    """One server command; ``{port}`` in an argument is replaced by a free port."""

    def __init__(
        self,
        name: str,
        args: Sequence[str],
        env: Mapping[str, str],
        cwd: Path | str | None = None,
    ) -> None:
        self.name = name
        self.port = free_port()
        self.args = [a.replace("{port}", str(self.port)) for a in args]
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", **env}
        self.cwd = str(cwd or ROOT)
        self.log_path = Path(tempfile.mkstemp(prefix=f"server-{name}-", suffix=".log")[1])
        self.process: subprocess.Popen[bytes] | None = None
        self.returncode: int | None = None

    def launch(self) -> Server:
        """Start the process only (for a server without a port, e.g. a Celery worker)."""
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.args,
                env=self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def start(self, timeout: float = 90.0, ready_path: str | None = "/health") -> Server:
        """Start and wait for the port and a 200 from ``ready_path`` (bounded by ``timeout``)."""
        self.launch()
        assert self.process is not None
        if not wait_serving(self.process, self.port, self.name, self.log, timeout, ready_path):
            self.kill()
            raise RuntimeError(f"{self.name} not ready in {timeout}s:\n{self.log()[-4000:]}")
        return self

    def send(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def wait(self, timeout: float = 60.0) -> int:
        """Wait for the server to exit by itself; kill it (and fail) past ``timeout``."""
        assert self.process is not None
        try:
            self.returncode = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"{self.name} still running {timeout}s after the stop:\n{self.log()[-4000:]}"
            ) from None
        self._reap_group()
        return self.returncode

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        self.send(sig)
        return self.wait(timeout)

    def kill(self) -> None:
        """SIGKILL the whole process group (cleanup after a failure)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)

    def _reap_group(self) -> None:
        """Workers that outlived their master would keep sessions: kill them, loudly."""
        assert self.process is not None
        try:
            os.killpg(self.process.pid, 0)
        except (ProcessLookupError, PermissionError):
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 90.0) -> None:
        """Poll the log until ``text`` appears (bounded); fail if the process exits first."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: no {text!r} in the log:\n{self.log()[-4000:]}")
            time.sleep(0.1)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()
        elif self.process is not None:
            self._reap_group()


def mixed_load(writes: int, reads: int) -> list[tuple[str, str, Any]]:
    """``writes`` read-write transactions (``POST /notes``) spread among ``reads`` reads."""
    calls: list[tuple[str, str, Any]] = []
    for i in range(max(writes, reads)):
        if i < reads:
            calls.append(("GET", "/notes?limit=5", None))
        if i < writes:
            calls.append(("POST", "/notes", {"body": f"note {i}"}))
    return calls


class BackgroundLoad:
    """Requests sent from a thread while the test stops the server (bounded in count)."""

    def __init__(self, port: int, calls: list[tuple[str, str, Any]], concurrency: int) -> None:
        self.responses: list[Response] = []
        self._done = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._run, args=(port, calls, concurrency), daemon=True
        )

    def _run(self, port: int, calls: list[tuple[str, str, Any]], concurrency: int) -> None:
        for chunk_start in range(0, len(calls), concurrency):
            chunk = calls[chunk_start : chunk_start + concurrency]
            answered = hammer(port, chunk, concurrency=concurrency, timeout=30)
            with self._lock:
                self.responses.extend(answered)
                self._done += len(answered)
            if any(r.status == 0 for r in answered):
                return  # the server is gone: stop sending

    def start(self, at_least: int, timeout: float = 60.0) -> BackgroundLoad:
        """Start, and return once ``at_least`` requests were answered."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._done >= at_least:
                    return self
            time.sleep(0.05)
        raise AssertionError(f"fewer than {at_least} requests answered in {timeout}s")

    def join(self, timeout: float = 120.0) -> list[Response]:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "load thread still running"
        return self.responses

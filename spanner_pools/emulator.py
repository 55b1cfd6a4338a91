"""Find, start and provision the Cloud Spanner emulator (for tests, the demo and benchmarks).

The binary is looked up in this order: the ``SPANNER_EMULATOR_BIN`` environment variable, the
path the ``google-cloud-cli-spanner-emulator`` package installs, then the Cloud SDK found
through ``gcloud`` on ``PATH``. Without any of them :class:`EmulatorNotFound` says how to get
it (``gcloud components install cloud-spanner-emulator`` or the container image).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = [
    "DatabaseExists",
    "Emulator",
    "EmulatorNotFound",
    "admin_client",
    "drop_database",
    "find_emulator",
    "free_port",
    "provision",
]

INSTALLED_PATHS = (
    "/usr/lib/google-cloud-sdk/bin/cloud_spanner_emulator/emulator_main",
    "/usr/share/google-cloud-sdk/bin/cloud_spanner_emulator/emulator_main",
    "/opt/google-cloud-sdk/bin/cloud_spanner_emulator/emulator_main",
)

_REQUEST_RE = re.compile(r"Request\[([A-Za-z]+)\.([A-Za-z]+)\]")
_TIMED_REQUEST_RE = re.compile(r" \d\d:\d\d:(\d+\.\d+) .*Request\[([A-Za-z]+\.[A-Za-z]+)\]")


class EmulatorNotFound(RuntimeError):
    """No ``emulator_main`` binary could be found."""


def find_emulator() -> str:
    """The path of ``emulator_main``; raises :class:`EmulatorNotFound` with a fix."""
    explicit = os.environ.get("SPANNER_EMULATOR_BIN")
    if explicit:
        if os.access(explicit, os.X_OK):
            return explicit
        raise EmulatorNotFound(f"SPANNER_EMULATOR_BIN={explicit!r} is not an executable file")
    for path in INSTALLED_PATHS:
        if os.access(path, os.X_OK):
            return path
    gcloud = shutil.which("gcloud")
    if gcloud:
        sdk = Path(os.path.realpath(gcloud)).parent.parent
        candidate = sdk / "bin" / "cloud_spanner_emulator" / "emulator_main"
        if os.access(candidate, os.X_OK):
            return str(candidate)
    raise EmulatorNotFound(
        "Cloud Spanner emulator not found. Install it with "
        "'gcloud components install cloud-spanner-emulator' (or the Debian package "
        "google-cloud-cli-spanner-emulator), or set SPANNER_EMULATOR_BIN to the path of "
        "emulator_main. To use an emulator you run yourself (e.g. the container image "
        "gcr.io/cloud-spanner-emulator/emulator), set SPANNER_EMULATOR_HOST=host:port."
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Emulator:
    """One ``emulator_main`` process on 127.0.0.1 (the emulator listens on IPv4 only)."""

    def __init__(
        self,
        port: int | None = None,
        *,
        log_requests: bool = False,
        extra_args: Sequence[str] = (),
        binary: str | None = None,
    ) -> None:
        self.binary = binary or find_emulator()
        self._auto_port = port is None
        self.port = port or free_port()
        self.log_requests = log_requests
        self.extra_args = list(extra_args)
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = Path(tempfile.mkstemp(prefix="spanner-emulator-", suffix=".log")[1])

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> Emulator:
        """Start the process and wait until it serves.

        Ready means: our process still runs and its own log says it listens on our address.
        A port that merely accepts a connection could belong to another emulator that took
        the same free port first (ours then exits with "Failed to bind"); with an
        automatically chosen port, another one is tried.
        """
        for _attempt in range(3):
            if self._start_once(timeout):
                self._auto_port = False  # a restart keeps the address clients know
                return self
            if not self._auto_port:
                break
            self.port = free_port()
        raise RuntimeError(f"emulator did not start:\n{self.log_path.read_text()[-2000:]}")

    def _start_once(self, timeout: float) -> bool:
        args = [self.binary, "--host_port", self.host, *self.extra_args]
        if self.log_requests:
            args.append("--log_requests")
        offset = self.log_path.stat().st_size
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        ready = f"Server address: {self.host}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                return False
            if ready in self._log_since(offset):
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                        return True
                except OSError:
                    pass
            time.sleep(0.02)
        self.stop()
        return False

    def stop(self) -> None:
        """Stop the process (its data is gone: the emulator keeps it in memory)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- reading the request log (needs log_requests=True) ---------------------------------

    def log_offset(self) -> int:
        """The current end of the log, to count only the requests after it."""
        return self.log_path.stat().st_size

    def _log_since(self, since: int) -> str:
        with open(self.log_path, "rb") as log:
            log.seek(since)
            return log.read().decode(errors="replace")

    def requests(self, since: int = 0) -> Counter[str]:
        """RPCs logged since ``since`` (a ``log_offset()``), by ``Service.Method``."""
        text = self._log_since(since)
        return Counter(f"{m.group(1)}.{m.group(2)}" for m in _REQUEST_RE.finditer(text))

    def request_times(self, method: str, since: int = 0) -> list[float]:
        """Epoch seconds at which the emulator logged ``method`` (e.g. ``Spanner.ExecuteSql``)."""
        return [
            float(m.group(1))
            for m in _TIMED_REQUEST_RE.finditer(self._log_since(since))
            if m.group(2) == method
        ]


class DatabaseExists(RuntimeError):
    """:func:`provision` found the database already there (its DDL was not applied)."""


@contextlib.contextmanager
def admin_client(host: str, project: str) -> Iterator[Any]:
    """A plain client (anonymous credentials, no metrics thread) for admin calls on ``host``."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud.spanner_v1 import Client

    from ._compat import NO_BUILTIN_METRICS

    client = Client(
        project=project,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": host},
        **NO_BUILTIN_METRICS,
    )
    try:
        yield client
    finally:
        client.instance_admin_api.transport.close()
        client.database_admin_api.transport.close()


def provision(
    host: str,
    *,
    project: str,
    instance: str,
    database: str,
    ddl: Sequence[str] = (),
    exist_ok: bool = False,
    timeout: float = 60.0,
) -> bool:
    """Create the instance (if missing) and the database with ``ddl`` on an emulator.

    Returns True if the database was created. If it already exists, its schema is left as
    it is and ``ddl`` is *not* applied: that raises :class:`DatabaseExists`, unless
    ``exist_ok=True`` (then it returns False), so a stale schema is never used by surprise.
    """
    from google.api_core.exceptions import AlreadyExists

    with admin_client(host, project) as client:
        inst = client.instance(
            instance,
            configuration_name=f"projects/{project}/instanceConfigs/emulator-config",
            display_name=instance,
            node_count=1,
        )
        with contextlib.suppress(AlreadyExists):
            inst.create().result(timeout)
        db = inst.database(database, ddl_statements=list(ddl))
        try:
            db.create().result(timeout)
        except AlreadyExists:
            if not exist_ok:
                raise DatabaseExists(
                    f"database {database!r} already exists on {host} (instance {instance!r}); "
                    "its DDL was not applied. Drop it first (drop_database()), use another "
                    "name, or pass exist_ok=True to keep it as it is"
                ) from None
            return False
        return True


def drop_database(host: str, *, project: str, instance: str, database: str) -> None:
    """Drop ``database`` on an emulator (nothing happens if it does not exist)."""
    from google.api_core.exceptions import NotFound

    with admin_client(host, project) as client, contextlib.suppress(NotFound):
        client.instance(instance).database(database).drop()

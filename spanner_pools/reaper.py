"""Deleting the sessions that dead processes of this host left behind (:func:`.owner.reap`).

Two ways: in a worker that just opened its pools, in one background thread
(:func:`reap_in_background`); or, for a forking master that must never hold a channel (uWSGI's
master at exit, gunicorn's ``child_exit``), in a short-lived ``python -m spanner_pools.reaper``
process. That process gets the pools' settings on its stdin (never argv or the environment:
they may name credentials), bounds itself with ``SIGALRM`` and exits.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from .owner import reap

__all__ = [
    "command",
    "filled_pipe",
    "main",
    "payload",
    "prepare",
    "reap_in_background",
    "run",
    "spawn",
]

logger = logging.getLogger(__name__)

#: What the reaper process needs of each pool's settings: where the database is and how to
#: authenticate (``CREDENTIALS`` is a key file's path, never the key).
FIELDS = ("project", "instance", "database", "emulator_host", "credentials", "database_role")
#: Seconds a reaper process may run at most (it kills itself past it), and each RPC's deadline.
DEFAULT_TIMEOUT = 12.0
RPC_TIMEOUT = 5.0
#: A payload must fit a pipe's buffer (written before the child reads: never blocks).
MAX_PAYLOAD = 60_000


def _reap_for(manager: Any) -> None:
    try:
        if manager.opened and not manager.closed:
            reap(manager.database, timeout=manager.settings.rpc_timeout)
    except Exception as exc:  # noqa: BLE001 - best effort; Spanner expires them in an hour
        manager.log.info("could not look for dead processes' sessions: %s", exc)


def reap_in_background(managers: Iterable[Any]) -> threading.Thread:
    """Reap for each open pool manager, in one daemon thread (never in a forking master)."""
    chosen = list(managers)

    def run() -> None:
        for manager in chosen:
            _reap_for(manager)

    thread = threading.Thread(target=run, name="spanner-pools-reaper", daemon=True)
    thread.start()
    return thread


def payload(managers: Iterable[Any], timeout: float = DEFAULT_TIMEOUT) -> bytes | None:
    """The reaper process's stdin for these managers (one entry per database), or None if
    there is nothing to reap for or it would not fit a pipe."""
    pools: list[dict[str, Any]] = []
    for manager in managers:
        fields = {name: getattr(manager.settings, name) for name in FIELDS}
        if fields not in pools:
            pools.append(fields)
    if not pools:
        return None
    data = json.dumps({"timeout": timeout, "pools": pools}).encode()
    if len(data) > MAX_PAYLOAD:
        logger.warning("spanner_pools: too many pools to reap for from the master (%d)", len(pools))
        return None
    return data


def python_executable() -> str | None:
    """A Python of this installation (under uWSGI ``sys.executable`` is the uwsgi binary)."""
    if Path(sys.executable).name.startswith("python"):
        return sys.executable
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    for prefix in dict.fromkeys((sys.prefix, sys.exec_prefix, sys.base_prefix)):
        for name in (f"python{version}", f"python{sys.version_info[0]}", "python"):
            candidate = Path(prefix) / "bin" / name
            if os.access(candidate, os.X_OK):
                return str(candidate)
    return None


def command() -> tuple[list[str], dict[str, str]] | None:
    """argv and environment of a reaper process: this Python, this process's ``sys.path``
    (paths only: the settings go through stdin); None if no Python is found."""
    python = python_executable()
    if python is None:
        logger.warning("spanner_pools: no Python executable found to run the reaper")
        return None
    package_parent = str(Path(__file__).resolve().parent.parent)
    path = [package_parent, *(p for p in sys.path if p and os.path.isdir(p))]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(dict.fromkeys(path))}
    return [python, "-m", "spanner_pools.reaper"], env


def prepare(
    managers: Iterable[Any], timeout: float = DEFAULT_TIMEOUT
) -> tuple[bytes, list[str], dict[str, str]] | None:
    """A reaper process's stdin, argv and environment for these managers, or None if none is
    to run (nothing to reap for, or no Python)."""
    data = payload(managers, timeout)
    found = command()
    if data is None or found is None:
        return None
    return data, *found


def filled_pipe(data: bytes) -> int:
    """The read end of a pipe that holds ``data``, its write end closed: a child's stdin.
    ``data`` fits the pipe's buffer (:data:`MAX_PAYLOAD`), so the write never blocks."""
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, data)
    except BaseException:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)
    return read_end


def run(managers: Iterable[Any], timeout: float = DEFAULT_TIMEOUT) -> int | None:
    """Run a reaper process for these managers and wait for it (at most ``timeout`` s plus a
    moment); its exit code, or None if none ran."""
    prepared = prepare(managers, timeout)
    if prepared is None:
        return None
    data, argv, env = prepared
    try:
        return subprocess.run(
            argv, input=data, env=env, timeout=timeout + 2, check=False
        ).returncode
    except (OSError, subprocess.SubprocessError) as exc:
        logger.warning("spanner_pools: the reaper process failed: %s", exc)
        return None


def spawn(managers: Iterable[Any], timeout: float = DEFAULT_TIMEOUT) -> int | None:
    """Start a reaper process without waiting (``posix_spawn``: no Python fork hooks, no
    ``Popen`` left to warn); its PID, or None. The caller's ``waitpid`` collects it."""
    prepared = prepare(managers, timeout)
    if prepared is None:
        return None
    data, argv, env = prepared
    read_end = filled_pipe(data)
    try:
        pid = os.posix_spawn(argv[0], argv, env, file_actions=[(os.POSIX_SPAWN_DUP2, read_end, 0)])
    except OSError as exc:
        logger.warning("spanner_pools: could not start the reaper process: %s", exc)
        return None
    finally:
        os.close(read_end)
    return pid


def _database(fields: dict[str, Any]) -> Any:
    """What :func:`.owner.reap` needs (``spanner_api``, ``name``), on a new channel."""
    from ._channel import build_spanner_api
    from .process import build_client
    from .settings import SpannerSettings

    chosen: dict[str, Any] = {name: fields.get(name) for name in FIELDS}
    settings = SpannerSettings(**chosen)
    client = build_client(settings)
    api, _ = build_spanner_api(
        client, emulator_host=settings.emulator_host, rpc_timeout=RPC_TIMEOUT
    )
    name = f"{client.instance(settings.instance).name}/databases/{settings.database}"
    return SimpleNamespace(spanner_api=api, name=name)


def main() -> int:
    """The reaper process: read the pools from stdin, reap each database, exit (killed by
    ``SIGALRM`` if it takes longer than the payload's timeout)."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    request = json.loads(sys.stdin.buffer.read() or b"{}")
    signal.alarm(max(1, int(request.get("timeout", DEFAULT_TIMEOUT))))
    failed = 0
    for fields in request.get("pools", []):
        database = None
        try:
            database = _database(fields)
            reap(database, timeout=RPC_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - try the next database
            failed += 1
            logger.warning(
                "could not delete dead processes' sessions of %s: %s: %s",
                fields.get("database"),
                type(exc).__name__,
                exc,
            )
        finally:
            if database is not None:
                database.spanner_api.transport.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

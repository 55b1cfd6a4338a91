"""Which process a session belongs to, and deleting the sessions of processes that died.

A worker killed by SIGKILL (the OOM killer, gunicorn's worker timeout) or stopped while busy
under uWSGI runs no cleanup, and Spanner keeps its sessions for an hour. Every pooled session
therefore carries three labels: this host, this PID and the process's start time (so a reused
PID is never taken for the dead process); the host label also hashes the boot ID and the PID
namespace, so containers sharing a hostname never judge each other's PIDs. :func:`reap` lists the sessions of this host with a
label filter and deletes those whose process is gone; :mod:`.reaper` runs it in the next
worker that starts on the host (gunicorn ``post_worker_init``, uWSGI ``postfork``, the ASGI
lifespan, Celery children), and in a short-lived process started by a master that knows the
pools (uWSGI's master at exit, gunicorn ``child_exit``/``on_exit`` with ``--preload``). A
live process's sessions are never deleted.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "HOST_KEY",
    "PID_KEY",
    "START_KEY",
    "alive",
    "host_label",
    "process_labels",
    "reap",
    "with_process_labels",
]

logger = logging.getLogger(__name__)

HOST_KEY = "spanner_pools_host"
PID_KEY = "spanner_pools_pid"
START_KEY = "spanner_pools_start"
#: Labels a session may carry (Spanner's limit), and how many of them are ours.
MAX_LABELS = 64
OWN_LABELS = 3

_INVALID = re.compile(r"[^-_a-z0-9]")


def host_label(hostname: str | None = None) -> str:
    """This host and PID namespace as a label value: the hostname (lowercase, other characters
    as '-', at most 50) and a hash of hostname, boot ID and PID namespace, so that two
    machines or containers sharing a hostname never judge each other's PIDs."""
    name = socket.gethostname() if hostname is None else hostname
    value = _INVALID.sub("-", name.lower())[:50] or "unknown"
    scope = "|".join([name, _read("/proc/sys/kernel/random/boot_id"), _pid_namespace()])
    return f"{value}-{hashlib.sha256(scope.encode()).hexdigest()[:12]}"


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii", errors="replace") as file:
            return file.read().strip()
    except OSError:
        return ""


def _pid_namespace() -> str:
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return ""


def start_time(pid: int) -> str | None:
    """The start time of ``pid`` in clock ticks since boot (``/proc``), or None if unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[19].decode() if len(fields) > 19 else None


def process_labels() -> dict[str, str]:
    """The labels that identify this process: host, PID, start time."""
    pid = os.getpid()
    return {HOST_KEY: host_label(), PID_KEY: str(pid), START_KEY: start_time(pid) or "0"}


def with_process_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """The user's ``LABELS`` plus this process's (the user's win on a clash of keys)."""
    return {**process_labels(), **labels}


def alive(pid: int, start: str | None) -> bool:
    """True unless process ``pid`` is certainly gone, or is another process with that PID."""
    if pid <= 0:
        return True  # not ours to judge
    current = start_time(pid)
    if current is not None:
        return start in (None, "0") or current == start
    if os.path.isdir("/proc/self"):
        return False  # /proc works here and has no such process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _dead_sessions(sessions: Iterable[Any], host: str) -> list[str]:
    names = []
    for session in sessions:
        labels = dict(session.labels)
        if labels.get(HOST_KEY) != host:
            continue
        try:
            pid = int(labels.get(PID_KEY, ""))
        except ValueError:
            continue
        if not alive(pid, labels.get(START_KEY)):
            names.append(session.name)
    return names


def reap(database: Any, *, timeout: float = 10.0) -> int:
    """Delete the sessions of ``database`` left by dead processes of this host; how many."""
    host = host_label()
    api = database.spanner_api
    listed = api.list_sessions(
        request={"database": database.name, "filter": f"labels.{HOST_KEY}:{host}"},
        timeout=timeout,
    )
    deleted = 0
    for name in _dead_sessions(listed, host):
        try:
            api.delete_session(name=name, timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - gone already, or Spanner down: try the next
            logger.info("spanner_pools: could not delete dead process's session %s: %s", name, exc)
            continue
        deleted += 1
    if deleted:
        logger.warning(
            "spanner_pools: deleted %d session(s) of %s left by dead processes on %s",
            deleted,
            database.name,
            host,
        )
    return deleted

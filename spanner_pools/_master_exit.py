"""uWSGI's master, at exit: run the reaper once every worker is buried, and wait for it.

The master runs no Python at exit (uWSGI's plugin atexit skips the master, which never
finalizes the interpreter), so the hook is C-level: libc's ``__cxa_atexit`` calling libc's
``system()`` with a shell command fixed at install time. Workers inherit the registration, so
the command first checks that its parent is the master. It runs ``python -m
spanner_pools.reaper`` with the pools' settings on stdin, from a pipe filled at install (never
argv or the environment); the reaper kills itself past its timeout, so the wait is bounded.
The master never builds a client, a channel or a thread.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shlex
from collections.abc import Iterable
from typing import Any

from . import reaper

__all__ = ["reap_at_exit"]

logger = logging.getLogger(__name__)

#: The PID that registered the handler (once per master), and the command's buffer, which C
#: reads at exit: referenced until then.
_registered_in: int | None = None
_command: Any = None


def shell_command(master_pid: int, settings_fd: int, argv: list[str], pythonpath: str) -> str:
    """The command ``system()`` runs at exit: nothing unless its parent is the master. The
    settings pipe is opened as ``/dev/fd/N`` (dash redirects only one-digit descriptors)."""
    run = " ".join(shlex.quote(arg) for arg in argv)
    return (
        f'[ "$PPID" = "{master_pid}" ] || exit 0; '
        f"PYTHONPATH={shlex.quote(pythonpath)} exec {run} </dev/fd/{settings_fd}"
    )


def reap_at_exit(managers: Iterable[Any]) -> bool:
    """Register the exit handler in this (master) process; False if it cannot be (no pools,
    no Python found, no ``__cxa_atexit``). Idempotent."""
    global _registered_in, _command
    if _registered_in == os.getpid():
        return True
    prepared = reaper.prepare(managers)
    if prepared is None:
        return False
    try:
        libc = ctypes.CDLL(None)
        register = libc.__cxa_atexit
        system = ctypes.cast(libc.system, ctypes.c_void_p)
    except (OSError, AttributeError) as exc:
        logger.info("spanner_pools: uWSGI's master cannot reap at exit here: %s", exc)
        return False
    register.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    register.restype = ctypes.c_int
    data, argv, env = prepared
    read_end = reaper.filled_pipe(data)
    os.set_inheritable(read_end, True)  # the shell's python reads it as stdin
    line = shell_command(os.getpid(), read_end, argv, env["PYTHONPATH"])
    buffer = ctypes.create_string_buffer(line.encode())
    if register(system, ctypes.cast(buffer, ctypes.c_void_p), None) != 0:
        os.close(read_end)
        logger.info("spanner_pools: uWSGI's master cannot reap at exit (__cxa_atexit failed)")
        return False
    _command, _registered_in = buffer, os.getpid()
    return True

"""A token that exactly one process of a fork tree can take: the "opened before fork" warning
then appears once per tree, not once per worker."""

from __future__ import annotations

import logging
import os
import stat
from typing import Any

__all__ = ["ForkToken", "warn_inherited"]


def warn_inherited(log: logging.Logger | logging.LoggerAdapter[Any], parent: int) -> None:
    """The warning of the one process of a tree that took the token."""
    log.warning(
        "this pool was opened in process %s before fork; this process leaves the "
        "inherited sessions alone and creates its own, while the parent keeps (and pings) "
        "its sessions until it closes the pool. Open pools after fork: use the worker "
        "hooks (gunicorn -c python:spanner_pools.gunicorn) and do not use the pool at "
        "import time with --preload. Logged once for all processes forked from %s.",
        parent,
        parent,
    )


class ForkToken:
    """One byte in a pipe, inherited by every process forked from the one that made it.

    Whichever process of the tree reads the byte first says so with ``take()`` returning True;
    the others read nothing.
    """

    def __init__(self) -> None:
        read_end, write_end = os.pipe()
        os.write(write_end, b"!")
        os.close(write_end)  # the byte stays buffered; later reads see end-of-file
        os.set_blocking(read_end, False)
        info = os.fstat(read_end)
        self._fd = read_end
        self._identity = (info.st_dev, info.st_ino)

    def take(self) -> bool:
        """True in the one process that gets the byte (or if the pipe is gone: say it anyway)."""
        try:
            info = os.fstat(self._fd)
        except OSError:
            return True
        if not stat.S_ISFIFO(info.st_mode) or (info.st_dev, info.st_ino) != self._identity:
            return True  # the descriptor was closed (and reused): never read someone else's
        try:
            return os.read(self._fd, 1) == b"!"
        except BlockingIOError:
            return False
        except OSError:
            return True

    def close(self) -> None:
        try:
            info = os.fstat(self._fd)
        except OSError:
            return
        if (info.st_dev, info.st_ino) == self._identity:
            os.close(self._fd)

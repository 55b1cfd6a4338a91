"""The manager's per-process ownership (``registry.ForkAware``): pausing the pinger around
``fork()``, and in a child dropping what it inherited without using or deleting it."""

from __future__ import annotations

import contextlib
import os

from . import registry
from ._manager_base import ManagerBase
from .forktoken import ForkToken, warn_inherited

__all__ = ["ForkOwnership"]


class ForkOwnership(ManagerBase):
    """The fork hooks of :class:`~spanner_pools.manager.PoolManager`."""

    def check_process(self) -> None:
        """Backstop for forks ``os.register_at_fork`` did not see (redis-py's ``_checkpid``)."""
        if self._proc.pid != os.getpid():
            self._after_fork()

    def pause_for_fork(self) -> None:
        """Before ``fork()`` in this process: let the pinger finish its pass and wait.

        An open pool also gets its fork token now, for the once-per-tree warning."""
        proc = self._proc
        if proc.built is None or proc.pid != os.getpid():
            return
        if self._fork_token is None:
            # Out of descriptors: no token, and every child warns on its own.
            with contextlib.suppress(OSError):
                self._fork_token = ForkToken()
        if proc.built.backend.pause():
            proc.paused = proc.built.backend

    def resume_after_fork(self) -> None:
        """After ``fork()``, in the parent: let the pinger go on."""
        paused, self._proc.paused = self._proc.paused, None
        if paused is not None:
            paused.resume()

    def _after_fork(self) -> None:
        """In a child: forget the parent's client, channel and sessions without touching them.

        Says nothing yet: the warning comes when the child uses the pool (:meth:`open`).
        """
        built, parent = self._proc.built, self._proc.pid
        self._proc = self._new_process()  # the pinger's and leak watcher's threads stayed behind
        if built is not None:
            registry.keep_inherited(built)
            self._inherited_from = parent

    def _warn_inherited(self) -> None:
        """The pool was open in a parent and is now used here: warn once per process tree."""
        parent, self._inherited_from = self._inherited_from, None
        token, self._fork_token = self._fork_token, None
        if parent is not None and (token is None or token.take()):
            warn_inherited(self.log, parent)

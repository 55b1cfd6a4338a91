"""One daemon thread that runs a step, sleeps as long as the step says, and stops on request:
the loop under the pinger and the leak watcher (in the manner of pymongo's periodic executor).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["PeriodicWorker"]


class PeriodicWorker:
    """Runs ``step()`` until :meth:`stop`; ``step`` returns the seconds to sleep (``None``:
    until :meth:`wake`). Each step runs under a lock that :meth:`pause` takes, so ``fork()``
    can wait for the current step and hold off the next one (no thread of ours inside gRPC
    while the process forks). ``on_exit`` runs in the thread as it ends.
    """

    def __init__(
        self,
        name: str,
        step: Callable[[], float | None],
        *,
        on_exit: Callable[[], None] | None = None,
    ) -> None:
        self._step = step
        self._on_exit = on_exit
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._step_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def name(self) -> str:
        return self._thread.name

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def wake(self) -> None:
        """Run the next step now instead of at the end of the current sleep."""
        self._wake.set()

    def pause(self, timeout: float = 5.0) -> bool:
        """Wait for the running step to end and hold off the next one (before ``fork()``)."""
        return self._step_lock.acquire(timeout=timeout)

    def resume(self) -> None:
        self._step_lock.release()

    def stop(self, timeout: float = 1.0) -> bool:
        """Ask the loop to end and wait up to ``timeout`` seconds for it; True once it ended."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                with self._step_lock:
                    if self._stop.is_set():
                        return
                    sleep = self._step()
                self._sleep(sleep)
        finally:
            if self._on_exit is not None:
                self._on_exit()

    def _sleep(self, seconds: float | None) -> None:
        if seconds is None:
            self._wake.wait()
            self._wake.clear()
            return
        deadline = time.monotonic() + max(seconds, 0.01)
        while not self._stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if self._wake.wait(remaining):
                self._wake.clear()
                return

"""Polling for a condition in the tests: bounded, so a hang fails instead of blocking."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(
    condition: Callable[[], bool],
    timeout: float = 30.0,
    *,
    interval: float = 0.02,
    detail: Callable[[], str] | None = None,
) -> None:
    """Poll every ``interval`` s until ``condition()`` holds; the timeout only guards against a
    hang. ``detail()`` (a server's log, say) is added to the failure."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            message = "condition not reached before the guard timeout"
            raise AssertionError(message if detail is None else f"{message}:\n{detail()}")
        time.sleep(interval)

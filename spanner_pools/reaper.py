"""Deleting, in a worker that just opened its pools, the sessions that dead processes of this
host left behind (:func:`spanner_pools.owner.reap`), in one background thread."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from .owner import reap

__all__ = ["reap_in_background"]


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

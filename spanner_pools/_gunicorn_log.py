"""Under gunicorn, the library's log lines go through gunicorn's error log (its format, level
and file), unless the app configured logging itself.

Without this, a ``spanner_pools`` warning in a worker reaches Python's last-resort handler
and prints as a bare message, without time, PID or level. The gunicorn hooks call
:func:`follow_gunicorn_log` in the master and again in each worker once the app is loaded, so
an app that configures logging (Django's ``LOGGING``, ``dictConfig``, gunicorn's
``logconfig_dict``) keeps its own handlers and no line is printed twice.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["LIBRARY_LOGGER", "follow_gunicorn_log"]

#: The logger every module of the library logs under.
LIBRARY_LOGGER = "spanner_pools"

# What this module added, so that it can take it back when the app configures logging later.
_added: list[logging.Handler] = []
_level_set = False


def _configured_elsewhere(library: logging.Logger) -> bool:
    """True if the app (not this module) gave the library's lines somewhere to go."""
    logger: logging.Logger | None = library
    while logger is not None:
        if any(h not in _added for h in logger.handlers):
            return True
        if not logger.propagate:
            return False
        logger = logger.parent
    return False


def follow_gunicorn_log(gunicorn_log: Any) -> bool:
    """Send ``spanner_pools`` records to gunicorn's error-log handlers; True if it did.

    ``gunicorn_log`` is ``server.log`` or ``worker.log`` (a ``gunicorn.glogging.Logger``).
    Idempotent; undoes an earlier call first, so it follows the latest logging config.
    """
    global _level_set
    library = logging.getLogger(LIBRARY_LOGGER)
    for handler in _added:
        library.removeHandler(handler)
    _added.clear()
    if _level_set:
        library.setLevel(logging.NOTSET)
        _level_set = False
    error_log = getattr(gunicorn_log, "error_log", None)
    if not isinstance(error_log, logging.Logger) or not error_log.handlers:
        return False
    if _configured_elsewhere(library):
        return False
    for handler in error_log.handlers:
        library.addHandler(handler)
        _added.append(handler)
    if library.level == logging.NOTSET:
        library.setLevel(error_log.level)  # gunicorn's --log-level
        _level_set = True
    return True

"""``managers`` (alias -> :class:`~spanner_pools.PoolManager`, one per alias and process).

``pools`` and ``Pools`` are the names this registry had before 0.2 (it holds managers, each of
which owns a pool); they stay as aliases.

Building a manager touches no network: it opens on first use, or earlier through the core's
worker hooks (``registry.open_all()`` in gunicorn's ``post_worker_init``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from spanner_pools import PoolManager, registry

from .conf import load

#: Name under which a bad ``SPANNER`` setting is reported to the core's registry.
REGISTRY_SOURCE = "django_app"

__all__ = ["REGISTRY_SOURCE", "Managers", "PoolDoesNotExist", "Pools", "managers", "pools"]

logger = logging.getLogger(__name__)


class PoolDoesNotExist(KeyError):
    """An alias that ``SPANNER`` does not define (a ``KeyError``, so ``in`` and ``get`` work)."""

    def __init__(self, alias: Any, configured: Iterable[str]) -> None:
        self.alias = alias
        self.configured = tuple(configured)
        names = ", ".join(repr(a) for a in self.configured) or "none"
        super().__init__(
            f"Spanner alias {alias!r} is not configured in settings.SPANNER "
            f"(configured aliases: {names})"
        )

    def __str__(self) -> str:
        return str(self.args[0])


class Managers(Mapping[str, PoolManager]):
    """Lazy mapping of alias to this process's :class:`~spanner_pools.PoolManager`.

    The managers are built from ``settings.SPANNER`` on first access (``AppConfig.ready()``
    does it at start-up) and kept for the life of the process. A bad ``SPANNER`` setting
    raises ``ImproperlyConfigured`` on access; ``manage.py check`` lists the problems.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._managers: dict[str, PoolManager] | None = None

    def configure(self) -> bool:
        """Build the managers now if the setting is valid (no network); False if it is not.

        Called from ``AppConfig.ready()``: an invalid setting must not stop Django from
        starting, so that the system checks can report it.
        """
        try:
            self._load()
        except ImproperlyConfigured as exc:
            logger.debug("Spanner pools not built: %s", exc)
            # A server worker must not boot on it: the worker hooks raise it.
            registry.report_configuration_error(REGISTRY_SOURCE, exc)
            return False
        registry.clear_configuration_error(REGISTRY_SOURCE)
        return True

    def _load(self) -> dict[str, PoolManager]:
        managers = self._managers
        if managers is not None:
            return managers
        with self._lock:
            if self._managers is None:
                self._managers = {
                    alias: PoolManager(settings, alias=alias) for alias, settings in load().items()
                }
            return self._managers

    def __getitem__(self, alias: str) -> PoolManager:
        managers = self._load()
        try:
            return managers[alias]
        except (KeyError, TypeError):
            raise PoolDoesNotExist(alias, managers) from None

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._load()))

    def __len__(self) -> int:
        return len(self._load())

    def __contains__(self, alias: object) -> bool:
        return alias in self._load()

    def reset(self, timeout: float = 5.0) -> None:
        """Close every manager (deleting its sessions) and rebuild from settings on next access.

        Runs when ``override_settings`` changes ``SPANNER``; not meant for production code.
        """
        with self._lock:
            old, self._managers = self._managers, None
        registry.clear_configuration_error(REGISTRY_SOURCE)
        for manager in (old or {}).values():
            try:
                manager.close(timeout=timeout)
            except Exception:  # noqa: BLE001 - close the others anyway
                manager.log.exception("could not close")

    def __repr__(self) -> str:
        managers = self._managers
        if managers is None:
            return "<Managers (not built)>"
        return f"<Managers {list(managers.values())!r}>"


#: Alias -> :class:`~spanner_pools.PoolManager` of this process (``from django_app import managers``).
managers = Managers()

#: Deprecated names (before 0.2) of :class:`Managers` and :data:`managers`; the same objects.
Pools = Managers
pools = managers

"""What both management commands share: picking the pools from ``--alias``."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError

from spanner_pools import PoolManager

from ...sessions import PoolDoesNotExist, pools


def add_alias_argument(parser: Any) -> None:
    parser.add_argument(
        "--alias",
        metavar="NAME",
        help="Only this alias of settings.SPANNER (default: every alias).",
    )


def selected_managers(alias: str | None) -> list[PoolManager]:
    """The managers named by ``--alias`` (all of them without it); CommandError otherwise."""
    try:
        if alias is not None:
            return [pools[alias]]
        return [pools[name] for name in pools]
    except PoolDoesNotExist as exc:
        raise CommandError(str(exc)) from exc
    except ImproperlyConfigured as exc:
        raise CommandError(f"settings.SPANNER is invalid: {exc}") from exc


def describe(manager: PoolManager) -> str:
    s = manager.settings
    project = s.project or "(default project)"
    return f"Spanner pool {manager.alias!r} (projects/{project}/instances/{s.instance}/databases/{s.database})"

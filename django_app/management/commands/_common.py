"""What both management commands share: ``--alias``/``--timeout``/``--json`` and the report.

The report itself (``SELECT 1`` on a temporary session, ListSessions by label and age, one
deadline per alias, no pool built) is :mod:`spanner_pools.status`, the same as Flask's.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError

from spanner_pools import SpannerSettings

from ...managers import PoolDoesNotExist, managers


def add_arguments(parser: Any) -> None:
    """``--alias NAME``, ``--timeout SECONDS`` and ``--json``."""
    parser.add_argument(
        "--alias",
        metavar="NAME",
        help="Only this alias of settings.SPANNER (default: every alias).",
    )
    parser.add_argument(
        "--timeout",
        type=_positive,
        metavar="SECONDS",
        help="Seconds all RPCs of one alias may take together (default: its RPC_TIMEOUT).",
    )
    parser.add_argument("--json", action="store_true", help="Print one JSON document.")


def _positive(text: str) -> float:
    import argparse

    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def selected_settings(alias: str | None) -> dict[str, SpannerSettings]:
    """Alias -> settings named by ``--alias`` (all without it); CommandError otherwise.

    The managers are only read for their settings: no pool is opened.
    """
    try:
        names = [alias] if alias is not None else list(managers)
        return {name: managers[name].settings for name in names}
    except PoolDoesNotExist as exc:
        raise CommandError(str(exc)) from exc
    except ImproperlyConfigured as exc:
        raise CommandError(f"settings.SPANNER is invalid: {exc}") from exc


def run_report(command: Any, options: dict[str, Any], *, list_sessions: bool) -> None:
    """Check the selected aliases, print the shared report, CommandError if one is down."""
    from spanner_pools import status

    reports = status.check_databases(
        selected_settings(options.get("alias")),
        timeout=options.get("timeout"),
        list_sessions=list_sessions,
    )
    if options.get("json"):
        command.stdout.write(status.render_json(reports))
    else:
        command.stdout.write(status.render_text(reports, settings=list_sessions))
    failures = status.unreachable(reports)
    if failures:
        raise CommandError("\n".join(failures))

"""``flask spanner status`` and ``flask spanner ping``: the pool of the app, from a shell.

Both open the app's pool in the CLI process (creating its sessions), talk to the database
and exit non-zero with a clear message when it does not answer.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from spanner_pools import PoolManager

__all__ = ["spanner_cli"]

logger = logging.getLogger(__name__)

spanner_cli = AppGroup("spanner", help="Inspect and ping the app's Spanner session pool.")


def _manager() -> PoolManager:
    """The current app's manager, or a usage error if the extension is not registered."""
    manager = current_app.extensions.get("spanner")
    if not isinstance(manager, PoolManager):
        raise click.UsageError(
            f"the Flask app {current_app.name!r} has no Spanner extension. "
            "Did you forget to call 'init_app'?"
        )
    return manager


def _database_path(manager: PoolManager) -> str:
    s = manager.settings
    return f"projects/{s.project}/instances/{s.instance}/databases/{s.database}"


def _echo_section(title: str, values: dict[str, Any]) -> None:
    click.echo(f"{title}:")
    width = max((len(k) for k in values), default=0)
    for key, value in values.items():
        click.echo(f"  {key:<{width}}  {value}")


@spanner_cli.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def status_command(as_json: bool) -> None:
    """Print the settings (no secrets) and pool stats; check that the database answers."""
    manager = _manager()
    settings = manager.settings.describe()
    error: Exception | None = None
    try:
        manager.check()
    except Exception as exc:  # noqa: BLE001 - any failure means "does not answer"
        error = exc
    stats = manager.stats()
    path = _database_path(manager)
    if as_json:
        report = {
            "database": path,
            "ok": error is None,
            "error": None if error is None else f"{type(error).__name__}: {error}",
            "settings": settings,
            "stats": stats,
        }
        click.echo(json.dumps(report, indent=2, sort_keys=True, default=str))
    else:
        click.echo(f"database: {path}")
        click.echo(f"check:    {'ok (SELECT 1 answered)' if error is None else 'FAILED'}")
        _echo_section("settings", settings)
        _echo_section("stats", stats)
    if error is not None:
        raise click.ClickException(
            f"Spanner database {path} did not answer: {type(error).__name__}: {error}"
        )


@spanner_cli.command("ping")
def ping_command() -> None:
    """Ping every idle session of the pool now (creating the pool first)."""
    manager = _manager()
    path = _database_path(manager)
    try:
        count = manager.ping()
        if count == 0:
            # Nothing idle was pinged (bursty/multiplexed pool, every session lent, or none
            # created yet): still prove that the database answers.
            manager.check()
    except Exception as exc:  # noqa: BLE001 - report any failure as unreachable
        raise click.ClickException(
            f"Spanner database {path} did not answer: {type(exc).__name__}: {exc}"
        ) from exc
    stats = manager.stats()
    click.echo(
        f"pinged {count} session(s) of {path} "
        f"(pool {stats['pool']!r}, {stats['sessions']} session(s), "
        f"{stats['ping_errors']} ping error(s))"
    )

"""``flask spanner status`` and ``flask spanner ping``: the app's databases, from a shell.

Both build no pool: :mod:`spanner_pools.status` runs ``SELECT 1`` on one temporary session
(``ping``) and lists the sessions on the server (``status``), every RPC bounded by the
database's ``RPC_TIMEOUT`` or ``--timeout``. They cover the default ``SPANNER_*`` database
(shown as ``default``) and every bind (``--bind NAME`` for one) and exit non-zero when a
database does not answer.
"""

from __future__ import annotations

import logging

import click
from flask import current_app
from flask.cli import AppGroup

from spanner_pools import SpannerSettings

__all__ = ["spanner_cli"]

logger = logging.getLogger(__name__)

spanner_cli = AppGroup("spanner", help="Check the app's Spanner databases and their sessions.")

_DEFAULT = "default"


def _databases(bind: str | None) -> dict[str, SpannerSettings]:
    """Name -> settings of the app's databases (``--bind`` picks one); usage errors otherwise."""
    from spanner_pools import PoolManager

    manager = current_app.extensions.get("spanner")
    if not isinstance(manager, PoolManager):
        raise click.UsageError(
            f"the Flask app {current_app.name!r} has no Spanner extension. "
            "Did you forget to call 'init_app'?"
        )
    databases = {_DEFAULT: manager.settings}
    for name, bound in current_app.extensions.get("spanner_binds", {}).items():
        databases[name] = bound.settings
    if bind is None:
        return databases
    if bind not in databases:
        names = ", ".join(repr(n) for n in databases)
        raise click.UsageError(
            f"no Spanner bind {bind!r} (configured: {names}; binds come from SPANNER_BINDS)"
        )
    return {bind: databases[bind]}


_bind_option = click.option(
    "--bind",
    metavar="NAME",
    help="Only this database: 'default' (SPANNER_*) or a SPANNER_BINDS name. Default: all.",
)
_timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds all RPCs of one database may take together (default: its RPC_TIMEOUT).",
)
_json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document instead of text."
)


def _run(bind: str | None, timeout: float | None, as_json: bool, list_sessions: bool) -> None:
    from spanner_pools import status

    reports = status.check_databases(_databases(bind), timeout=timeout, list_sessions=list_sessions)
    if as_json:
        click.echo(status.render_json(reports))
    else:
        click.echo(status.render_text(reports, settings=list_sessions))
    failures = status.unreachable(reports)
    if failures:
        raise click.ClickException("\n".join(failures))


@spanner_cli.command("status")
@_bind_option
@_timeout_option
@_json_option
def status_command(bind: str | None, timeout: float | None, as_json: bool) -> None:
    """Is each database reachable, and what sessions does the server hold (by label, ages)?"""
    _run(bind, timeout, as_json, list_sessions=True)


@spanner_cli.command("ping")
@_bind_option
@_timeout_option
@_json_option
def ping_command(bind: str | None, timeout: float | None, as_json: bool) -> None:
    """Run SELECT 1 on a temporary session of each database (no pool is created)."""
    _run(bind, timeout, as_json, list_sessions=False)

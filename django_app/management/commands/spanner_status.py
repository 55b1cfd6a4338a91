"""``manage.py spanner_status [--alias NAME] [--json]``: settings, a live query, pool stats.

Exits with an error (``CommandError``) if a database does not answer ``SELECT 1``.
"""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from google.api_core.exceptions import GoogleAPIError

from spanner_pools import PoolManager, SpannerPoolsError

from ._common import add_alias_argument, describe, selected_managers


def _live_query(manager: PoolManager) -> tuple[bool, str]:
    """Run ``SELECT 1`` (opening the pool if needed): (ok, what happened)."""
    start = time.monotonic()
    try:
        manager.check()
    except (SpannerPoolsError, GoogleAPIError) as exc:
        return False, f"{type(exc).__name__}: {exc}"
    return True, f"SELECT 1 answered in {(time.monotonic() - start) * 1000:.0f} ms"


class Command(BaseCommand):
    help = (
        "Show the settings (credentials masked), run a live query and show the pool stats of "
        "each Spanner alias. Fails if a database cannot be reached."
    )

    def add_arguments(self, parser: Any) -> None:
        add_alias_argument(parser)
        parser.add_argument("--json", action="store_true", help="Print one JSON document.")

    def handle(self, *args: Any, alias: str | None = None, **options: Any) -> None:
        report: dict[str, Any] = {}
        failures: list[str] = []
        for manager in selected_managers(alias):
            ok, detail = _live_query(manager)
            report[manager.alias] = {
                "settings": manager.settings.describe(),
                "live_query": {"ok": ok, "detail": detail},
                "stats": manager.stats(),
            }
            if not ok:
                failures.append(f"{describe(manager)} is unreachable: {detail}")
        if options.get("json"):
            self.stdout.write(json.dumps(report, indent=2, sort_keys=True, default=str))
        else:
            for name, entry in report.items():
                self._write_text(name, entry)
        if failures:
            raise CommandError("\n".join(failures))

    def _write_text(self, alias: str, entry: dict[str, Any]) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING(f"Spanner alias {alias!r}"))
        self.stdout.write("  settings:")
        for key, value in entry["settings"].items():
            self.stdout.write(f"    {key}: {value!r}")
        live = entry["live_query"]
        style = self.style.SUCCESS if live["ok"] else self.style.ERROR
        self.stdout.write(
            "  live query: " + style(("OK, " if live["ok"] else "FAILED, ") + live["detail"])
        )
        self.stdout.write("  stats:")
        for key, value in entry["stats"].items():
            shown = f"{value:.3f}" if isinstance(value, float) else repr(value)
            self.stdout.write(f"    {key}: {shown}")

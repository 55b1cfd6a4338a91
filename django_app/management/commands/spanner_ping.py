"""``manage.py spanner_ping [--alias NAME] [--timeout S] [--json]``: is each database reachable?"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from ._common import add_arguments, run_report


class Command(BaseCommand):
    help = (
        "Run SELECT 1 on a temporary session of each Spanner alias (no pool is created), "
        "bounded by RPC_TIMEOUT or --timeout. Fails if a database cannot be reached."
    )

    def add_arguments(self, parser: Any) -> None:
        add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        run_report(self, options, list_sessions=False)

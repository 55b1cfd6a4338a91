"""``manage.py spanner_status [--alias NAME] [--timeout S] [--json]``: the server's view.

Is each alias's database reachable, and what sessions does the server hold (total, counts by
label, ages)? The same report as ``flask spanner status``; exits with an error
(``CommandError``) if a database does not answer.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from ._common import add_arguments, run_report


class Command(BaseCommand):
    help = (
        "Show, for each Spanner alias, whether the database answers SELECT 1 and the sessions "
        "on the server (counts by label, ages) and the settings (credentials masked). No pool "
        "is created; bounded by RPC_TIMEOUT or --timeout. Fails if a database cannot be reached."
    )

    def add_arguments(self, parser: Any) -> None:
        add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        run_report(self, options, list_sessions=True)

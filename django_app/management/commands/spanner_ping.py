"""``manage.py spanner_ping [--alias NAME]``: ping every idle pooled session now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from google.api_core.exceptions import GoogleAPIError

from spanner_pools import SpannerPoolsError

from ._common import add_alias_argument, describe, selected_managers


class Command(BaseCommand):
    help = (
        "Open the pool of each Spanner alias if needed and ping every idle session now "
        "(SELECT 1 per session). Fails if a database cannot be reached."
    )

    def add_arguments(self, parser: Any) -> None:
        add_alias_argument(parser)

    def handle(self, *args: Any, alias: str | None = None, **options: Any) -> None:
        failures: list[str] = []
        for manager in selected_managers(alias):
            try:
                count = manager.ping()
            except (SpannerPoolsError, GoogleAPIError) as exc:
                failures.append(f"{describe(manager)} is unreachable: {type(exc).__name__}: {exc}")
                continue
            if manager.settings.pool in ("pinging", "transaction_pinging"):
                if manager.stats()["sessions"] == 0:
                    failures.append(
                        f"{describe(manager)} holds no session: Spanner has not been reachable "
                        "since the pool opened"
                    )
                    continue
                self.stdout.write(f"{describe(manager)}: pinged {count} idle session(s).")
            else:
                self.stdout.write(
                    f"{describe(manager)}: POOL={manager.settings.pool!r} keeps no sessions to "
                    "ping; nothing to do."
                )
        if failures:
            raise CommandError("\n".join(failures))

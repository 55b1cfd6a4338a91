"""``TEST_RUNNER = "django_app.test.SpannerDiscoverRunner"``: Spanner test databases.

Like Django does for ``DATABASES``, the runner creates a ``test_<DATABASE>`` database (cut to
Spanner's 30-character limit) for every ``SPANNER`` alias before the tests, points
``settings.SPANNER`` at it while they run, and drops it afterwards (``--keepdb`` keeps it).
Its schema comes from the ``SPANNER_TEST_DDL`` setting: a list of DDL statements for every
alias, or a dict of alias to such a list. Aliases naming the same database share one.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test.runner import DiscoverRunner

from spanner_pools import SpannerSettings

from . import conf
from .managers import managers

__all__ = ["SpannerDiscoverRunner", "setup_spanner_databases", "teardown_spanner_databases"]

#: What :func:`setup_spanner_databases` returns: the original ``SPANNER`` and the databases
#: it created, as ``(settings, test database ID)``.
OldConfig = tuple[Any, list[tuple[SpannerSettings, str]]]


def _ddl(aliases: Mapping[str, Any]) -> dict[str, list[str]]:
    """``SPANNER_TEST_DDL`` per alias; a clear error naming the setting if it is malformed."""
    raw = getattr(settings, "SPANNER_TEST_DDL", [])

    def statements(value: Any, name: str) -> list[str]:
        if isinstance(value, str) or not all(isinstance(s, str) for s in value or ()):
            raise ImproperlyConfigured(
                f"{name}: expected a list of DDL statements (strings), got {value!r}"
            )
        return list(value or ())

    if isinstance(raw, Mapping):
        unknown = sorted(set(raw) - set(aliases))
        if unknown:
            raise ImproperlyConfigured(
                f"SPANNER_TEST_DDL: unknown alias(es) {', '.join(map(repr, unknown))} "
                f"(SPANNER has {', '.join(map(repr, aliases))})"
            )
        return {a: statements(raw.get(a, []), f"SPANNER_TEST_DDL[{a!r}]") for a in aliases}
    if not isinstance(raw, (list, tuple)):
        raise ImproperlyConfigured(
            f"SPANNER_TEST_DDL: expected a list of DDL statements or a dict of alias to "
            f"such a list, got {raw!r}"
        )
    shared = statements(raw, "SPANNER_TEST_DDL")
    return dict.fromkeys(aliases, shared)


def setup_spanner_databases(*, keepdb: bool = False, verbosity: int = 1) -> OldConfig:
    """Create the test database of every alias and point ``settings.SPANNER`` at them."""
    from spanner_pools.testing import create_database, name_for_tests

    original = settings.SPANNER
    parsed = conf.load()
    ddl = _ddl(parsed)
    created: dict[tuple[str | None, str, str], str] = {}
    made: list[tuple[SpannerSettings, str]] = []
    test_spanner = copy.deepcopy(dict(original))
    for alias, alias_settings in parsed.items():
        where = (alias_settings.project, alias_settings.instance, alias_settings.database)
        name = created.get(where)
        if name is None:
            name = name_for_tests(alias_settings.database)
            if verbosity >= 1:
                action = "Using existing" if keepdb else "Creating"
                print(
                    f"{action} Spanner test database for alias {alias!r} ({name!r})...",
                    file=sys.stderr,
                )
            create_database(alias_settings, name, ddl[alias], keep=keepdb)
            created[where] = name
            made.append((alias_settings, name))
        test_spanner[alias] = {**test_spanner[alias], "DATABASE": name}
    managers.reset()
    settings.SPANNER = test_spanner
    return original, made


def teardown_spanner_databases(
    old_config: OldConfig, *, keepdb: bool = False, verbosity: int = 1
) -> None:
    """Close the pools (deleting their sessions), drop the test databases, restore ``SPANNER``."""
    from spanner_pools.testing import drop_database

    original, made = old_config
    managers.reset()
    for alias_settings, name in made:
        if keepdb:
            continue
        if verbosity >= 1:
            print(f"Destroying Spanner test database {name!r}...", file=sys.stderr)
        drop_database(alias_settings, name)
    settings.SPANNER = original


class SpannerDiscoverRunner(DiscoverRunner):
    """Django's test runner, plus a Spanner test database per ``SPANNER`` alias."""

    def setup_databases(self, **kwargs: Any) -> Any:
        old = super().setup_databases(**kwargs)
        return old, setup_spanner_databases(keepdb=self.keepdb, verbosity=self.verbosity)

    def teardown_databases(self, old_config: Any, **kwargs: Any) -> None:
        old, spanner_old = old_config
        try:
            teardown_spanner_databases(spanner_old, keepdb=self.keepdb, verbosity=self.verbosity)
        finally:
            super().teardown_databases(old, **kwargs)

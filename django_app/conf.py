"""Reads the ``SPANNER`` setting each time it is needed (so ``override_settings`` works) and
turns it into one :class:`~spanner_pools.SpannerSettings` per alias.

Validation is shared by the system checks (which report every problem with a stable ID) and
by :data:`django_app.managers` (which raises ``ImproperlyConfigured`` on the first one). No
network is touched here.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from spanner_pools import SETTINGS_KEYS, ConfigurationError, SpannerSettings
from spanner_pools._strings import convert_value
from spanner_pools.settings import show_value

__all__ = [
    "DEFAULT_ALIAS",
    "MIDDLEWARE_PATH",
    "Problem",
    "Settings",
    "conf",
    "key_format",
    "load",
    "validate",
]

#: The alias that ``request.spanner`` uses and that ``SPANNER`` must define.
DEFAULT_ALIAS = "default"
#: Dotted path of the middleware, as written in ``MIDDLEWARE``.
MIDDLEWARE_PATH = "django_app.middleware.SpannerSessionMiddleware"

_ALIAS_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
_MISSING = object()

_EXAMPLE = "SPANNER = {'default': {'PROJECT': 'my-project', 'INSTANCE': 'main', 'DATABASE': 'app'}}"


class Settings:
    """Django settings read on every access, never cached (``override_settings`` works)."""

    @property
    def SPANNER(self) -> Any:
        """The raw ``SPANNER`` setting, or a private sentinel when it is not set."""
        return getattr(settings, "SPANNER", _MISSING)

    @property
    def MIDDLEWARE(self) -> list[str]:
        return list(getattr(settings, "MIDDLEWARE", None) or [])


conf = Settings()


@dataclass(frozen=True)
class Problem:
    """One problem of the ``SPANNER`` setting; ``code`` is the check ID suffix (``E006``)."""

    code: str
    msg: str
    hint: str | None = None
    alias: str | None = None
    key: str | None = None


def key_format(alias: str) -> str:
    """``SPANNER['<alias>']['{key}']``: how errors of the core name a key of this alias."""
    escaped = repr(alias).replace("{", "{{").replace("}", "}}")
    return f"SPANNER[{escaped}]['{{key}}']"


def _show(value: Any) -> str:
    """A bad value for a message; one holding a private key is described, never shown."""
    return show_value(value)


def validate(value: Any) -> tuple[dict[str, SpannerSettings], list[Problem]]:
    """Every problem of a raw ``SPANNER`` value, and the settings of the aliases that are fine.

    ``value`` is what :attr:`Settings.SPANNER` returns (the sentinel when the setting is
    missing). The settings dict is only complete when there is no problem.
    """
    if value is _MISSING:
        return {}, [
            Problem(
                "E001",
                "The SPANNER setting is missing.",
                hint=f"Add it to your settings, e.g. {_EXAMPLE}",
            )
        ]
    if not isinstance(value, Mapping):
        return {}, [
            Problem(
                "E002",
                f"SPANNER: expected a dict of aliases to dicts of settings, got {_show(value)}.",
                hint=f"For example: {_EXAMPLE}",
            )
        ]
    flat = [key for key in value if isinstance(key, str) and key in SETTINGS_KEYS]
    if flat and DEFAULT_ALIAS not in value:
        return {}, [
            Problem(
                "E002",
                "SPANNER: expected a dict of aliases to dicts of settings, got a dict of "
                f"settings (keys {', '.join(map(repr, flat))}).",
                hint="Put the settings under an alias: SPANNER = {'default': {...}}",
            )
        ]
    problems: list[Problem] = []
    if DEFAULT_ALIAS not in value:
        configured = ", ".join(repr(a) for a in value) or "none"
        problems.append(
            Problem(
                "E003",
                f"SPANNER has no {DEFAULT_ALIAS!r} alias (configured aliases: {configured}).",
                hint="request.spanner and most tools use SPANNER['default']; add it.",
            )
        )
    parsed: dict[str, SpannerSettings] = {}
    for alias, values in value.items():
        if not isinstance(alias, str) or not _ALIAS_RE.match(alias):
            problems.append(
                Problem(
                    "E004",
                    f"SPANNER: alias {alias!r} is not a valid name (expected a non-empty string "
                    "of letters, digits, '_', '-' or '.').",
                    alias=str(alias),
                )
            )
            continue
        if not isinstance(values, Mapping):
            problems.append(
                Problem(
                    "E005",
                    f"SPANNER[{alias!r}]: expected a dict of settings, got {_show(values)}.",
                    hint=f"For example: SPANNER[{alias!r}] = "
                    "{'INSTANCE': 'main', 'DATABASE': 'app'}",
                    alias=alias,
                )
            )
            continue
        settings_, alias_problems = _validate_alias(alias, values)
        problems.extend(alias_problems)
        if settings_ is not None:
            parsed[alias] = settings_
    return parsed, problems


def _validate_alias(
    alias: str, values: Mapping[Any, Any]
) -> tuple[SpannerSettings | None, list[Problem]]:
    """All problems of one alias: unknown keys first, then each bad key the core reports.

    The core lists every bad key in one pass (:meth:`SpannerSettings.problems`), so every
    independent problem is shown at once.
    """
    fmt = key_format(alias)
    names = {fmt.format(key=key): key for key in SETTINGS_KEYS}
    problems: list[Problem] = []
    for key in values:
        if isinstance(key, str) and key in SETTINGS_KEYS:
            continue
        name = fmt.format(key=str(key).replace("{", "{{").replace("}", "}}"))
        close = difflib.get_close_matches(str(key).upper(), sorted(SETTINGS_KEYS), n=1)
        hint = f"Did you mean {close[0]!r}? " if close else ""
        problems.append(
            Problem(
                "E006",
                f"{name}: unknown setting.",
                hint=hint + "Known settings: " + ", ".join(sorted(SETTINGS_KEYS)) + ".",
                alias=alias,
                key=str(key),
            )
        )
    current: dict[str, Any] = {}
    unreadable: list[Problem] = []  # reported after the core's problems, in key order
    for key, value in values.items():
        if not (isinstance(key, str) and key in SETTINGS_KEYS):
            continue
        try:  # the one string rule of every adapter: POOL_SIZE="10" is 10
            current[key] = convert_value(key, value, name=fmt.format(key=key))
        except ConfigurationError as exc:
            unreadable.append(Problem("E008", f"{exc}.", alias=alias, key=key))
    reported: set[str] = set()
    for problem in SpannerSettings.problems(current, key_format=fmt):  # one pass
        key = names.get(problem.key or "")
        if key is None:
            problems.append(Problem("E008", f"{problem}.", alias=alias))
            continue
        if key in reported:
            continue
        reported.add(key)
        missing = current.get(key) is None
        problems.append(Problem("E007" if missing else "E008", f"{problem}.", alias=alias, key=key))
    if problems or unreadable:
        problems.extend(unreadable)
        return None, problems
    return SpannerSettings.from_mapping(current, key_format=fmt), []


def load() -> dict[str, SpannerSettings]:
    """The validated settings of every alias; raises ``ImproperlyConfigured`` otherwise.

    The message is the first problem; ``manage.py check`` lists all of them.
    """
    parsed, problems = validate(conf.SPANNER)
    if problems:
        first = problems[0]
        more = f" ({len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ImproperlyConfigured(
            f"{first.msg}{more} Run 'manage.py check' to list every problem "
            f"(check ID spanner_pools.{first.code})."
        )
    return parsed

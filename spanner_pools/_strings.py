"""The one rule for settings written as strings (env vars), shared by every adapter.

Numeric keys accept a numeric string (``POOL_SIZE="10"``, ``POOL_TIMEOUT="2.5"``), ``LABELS``
accepts a JSON object string; any other string, and any non-string, is passed on unchanged
for :meth:`~spanner_pools.SpannerSettings.from_mapping` to validate. There are no boolean
settings, so no string is ever read as a boolean. Errors name the setting as the user wrote it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from ._redact import safe_value, show_value
from .errors import ConfigurationError
from .settings import SCHEMA

__all__ = ["FLOAT_KEYS", "INT_KEYS", "convert_strings", "convert_value"]

#: Keys whose value may be a string of digits (converted to ``int``).
INT_KEYS = frozenset(key for key, setting in SCHEMA.items() if setting.kind == "int")
#: Keys whose value may be a numeric string (converted to ``float``, seconds).
FLOAT_KEYS = frozenset(key for key, setting in SCHEMA.items() if setting.kind == "seconds")
_INT_RE = re.compile(r"^[+-]?[0-9]+$")


def convert_value(key: str, value: Any, *, name: str | None = None) -> Any:
    """``value`` of the upper-case setting ``key`` with the string rule applied.

    ``name`` is how errors name the setting (default: ``key``), e.g. ``SPANNER_POOL_SIZE``.
    Raises :class:`~spanner_pools.ConfigurationError` for a string that a numeric key or
    ``LABELS`` cannot be read from.
    """
    if not isinstance(value, str):
        return value
    shown = key if name is None else name
    text = value.strip()
    if key in INT_KEYS:
        if not _INT_RE.match(text):
            raise ConfigurationError(
                f"{shown}: expected an integer (or a string of digits), got {show_value(value)}",
                key=shown,
                value=safe_value(value),
            )
        return int(text)
    if key in FLOAT_KEYS:
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise ConfigurationError(
                f"{shown}: expected a number of seconds (or a numeric string), got {show_value(value)}",
                key=shown,
                value=safe_value(value),
            )
        return number
    if key == "LABELS":
        try:
            labels = json.loads(text)
        except ValueError:
            labels = None
        if not isinstance(labels, dict):
            raise ConfigurationError(
                f'{shown}: expected a dict of str to str or a JSON object such as \'{{"team": '
                f'"web"}}\', got {show_value(value)}',
                key=shown,
                value=safe_value(value),
            )
        return labels
    return value


def convert_strings(values: Mapping[str, Any], *, key_format: str = "{key}") -> dict[str, Any]:
    """A copy of ``values`` (upper-case keys) with :func:`convert_value` applied to each.

    ``key_format`` renders a key for error messages, as in ``SpannerSettings.from_mapping``.
    Keys that are not strings are copied unchanged (the settings reject them by name).
    """
    return {
        key: convert_value(key, value, name=key_format.format(key=key))
        if isinstance(key, str)
        else value
        for key, value in values.items()
    }

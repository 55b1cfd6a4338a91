"""Spanner settings for the example site, read from ``SPANNER_*`` environment variables.

The same variables configure both sites, so the one site runs against the emulator
(``SPANNER_EMULATOR_HOST``) or real Cloud Spanner (no emulator host; credentials from
``SPANNER_CREDENTIALS`` or Application Default Credentials).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from spanner_pools import ConfigurationError

from .schema import DEFAULT_DATABASE, DEFAULT_INSTANCE, DEFAULT_PROJECT

__all__ = ["spanner_settings_from_env"]

_STRINGS = ("POOL", "EMULATOR_HOST", "DATABASE_ROLE", "CREDENTIALS")
_INTEGERS = ("POOL_SIZE",)
_NUMBERS = ("POOL_TIMEOUT", "PING_INTERVAL", "MAX_SESSION_AGE", "LEAK_TIMEOUT", "RPC_TIMEOUT")


def _number(name: str, raw: str, integer: bool) -> int | float:
    """Parse ``raw`` from the environment variable ``name``, or say which variable is wrong."""
    try:
        return int(raw) if integer else float(raw)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise ConfigurationError(
            f"{name}: expected {kind}, got {raw!r}", key=name, value=raw
        ) from None


def _labels(name: str, raw: str) -> dict[str, str]:
    """A JSON object such as ``{"team": "web"}`` (the format ``flask_ext`` also accepts)."""
    try:
        labels = json.loads(raw)
    except ValueError:
        labels = None
    if not isinstance(labels, dict):
        raise ConfigurationError(
            f'{name}: expected a JSON object such as \'{{"team": "web"}}\', got {raw!r}',
            key=name,
            value=raw,
        )
    return labels


def spanner_settings_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The core's upper-case settings (``POOL_SIZE``...) from ``SPANNER_POOL_SIZE``... .

    ``SPANNER_PROJECT`` falls back to ``GOOGLE_CLOUD_PROJECT``, then (with the emulator
    only) to the demo project. Validation of the values is left to the core, which names
    the setting in its errors.
    """
    env = os.environ if environ is None else environ
    emulator = env.get("SPANNER_EMULATOR_HOST") or None
    project = env.get("SPANNER_PROJECT") or env.get("GOOGLE_CLOUD_PROJECT")
    if not project and emulator:
        project = DEFAULT_PROJECT
    values: dict[str, Any] = {
        "INSTANCE": env.get("SPANNER_INSTANCE") or DEFAULT_INSTANCE,
        "DATABASE": env.get("SPANNER_DATABASE") or DEFAULT_DATABASE,
    }
    if project:
        values["PROJECT"] = project
    for key in _STRINGS:
        raw = env.get(f"SPANNER_{key}")
        if raw:
            values[key] = raw
    for key in (*_INTEGERS, *_NUMBERS):
        name = f"SPANNER_{key}"
        raw = env.get(name)
        if raw:
            values[key] = _number(name, raw.strip(), integer=key in _INTEGERS)
    raw_labels = env.get("SPANNER_LABELS")
    if raw_labels:
        values["LABELS"] = _labels("SPANNER_LABELS", raw_labels)
    return values

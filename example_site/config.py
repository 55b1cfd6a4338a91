"""Spanner settings for the example site, read from ``SPANNER_*`` environment variables.

The same variables configure both sites, so the one site runs against the emulator
(``SPANNER_EMULATOR_HOST``) or real Cloud Spanner (no emulator host; credentials from
``SPANNER_CREDENTIALS`` or Application Default Credentials).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from spanner_pools._strings import convert_strings
from spanner_pools.settings import SCHEMA

from .schema import DEFAULT_DATABASE, DEFAULT_INSTANCE, DEFAULT_PROJECT

__all__ = ["spanner_settings_from_env"]

#: Every setting but the three with their own fallbacks below.
_KEYS = tuple(key for key in SCHEMA if key not in ("PROJECT", "INSTANCE", "DATABASE"))


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
    for key in _KEYS:
        raw = env.get(f"SPANNER_{key}")
        if raw:
            values[key] = raw
    # The library's one string rule (numeric strings, a JSON object for LABELS); errors
    # name the environment variable.
    return convert_strings(values, key_format="SPANNER_{key}")

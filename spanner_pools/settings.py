"""Validated, immutable settings shared by the Flask and Django adapters.

Keys are upper case (``POOL_SIZE``); the adapters add their prefix (``SPANNER_POOL_SIZE`` in
Flask, ``SPANNER['default']['POOL_SIZE']`` in Django) through ``key_format`` so that every
error names the setting exactly as the user wrote it. Validation never touches the network.
The schema (keys, kinds, defaults, ranges) lives in :mod:`._settings_schema` and the checks of
each value in :mod:`._settings_checks`; both are re-exported here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ._redact import safe_value as _safe_value
from ._redact import show_value as show_value
from ._settings_checks import _DATABASE_RE, _INSTANCE_RE, _ROLE_RE, _Validator
from ._settings_schema import DAY as DAY
from ._settings_schema import DEFAULT_MAX_SESSION_AGE as DEFAULT_MAX_SESSION_AGE
from ._settings_schema import HOUR as HOUR
from ._settings_schema import POOL_MODES as POOL_MODES
from ._settings_schema import RANGES as RANGES
from ._settings_schema import SCHEMA as SCHEMA
from ._settings_schema import SERVER_IDLE_LIMIT as SERVER_IDLE_LIMIT
from ._settings_schema import SERVER_MAX_SESSION_AGE as SERVER_MAX_SESSION_AGE
from ._settings_schema import SETTINGS_KEYS as SETTINGS_KEYS
from ._settings_schema import Setting as Setting
from ._settings_schema import _default
from .errors import ConfigurationError

__all__ = ["POOL_MODES", "SCHEMA", "SETTINGS_KEYS", "Setting", "SpannerSettings", "show_value"]


@dataclass(frozen=True)
class SpannerSettings:
    """Everything needed to build one per-process pool.

    Build it with :meth:`from_mapping`; the constructor itself does no validation of the
    environment fallbacks.
    """

    instance: str
    database: str
    project: str | None = None
    pool: str = _default("POOL")
    pool_size: int = _default("POOL_SIZE")
    pool_timeout: float = _default("POOL_TIMEOUT")
    ping_interval: float = _default("PING_INTERVAL")
    emulator_host: str | None = None
    database_role: str | None = None
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    credentials: str | None = None
    max_session_age: float = _default("MAX_SESSION_AGE")
    leak_timeout: float | None = _default("LEAK_TIMEOUT")
    rpc_timeout: float = _default("RPC_TIMEOUT")

    @classmethod
    def from_mapping(
        cls,
        values: Mapping[str, Any],
        *,
        key_format: str = "{key}",
        environ: Mapping[str, str] | None = None,
    ) -> SpannerSettings:
        """Validate ``values`` (upper-case keys) and build the settings.

        ``key_format`` renders a key for error messages, e.g. ``"SPANNER_{key}"``.
        ``environ`` (default ``os.environ``) supplies ``GOOGLE_CLOUD_PROJECT`` and
        ``SPANNER_EMULATOR_HOST`` when ``PROJECT`` / ``EMULATOR_HOST`` are not set.
        """
        return _build(cls, values, key_format, environ, testing=False)

    def describe(self) -> dict[str, Any]:
        """The settings as a plain dict for status output; the credentials path is masked."""
        described: dict[str, Any] = {}
        for key, setting in SCHEMA.items():
            value = getattr(self, setting.attribute)
            if setting.kind == "labels":
                value = dict(value)
            elif setting.kind == "path":
                value = "***" if value else None
            described[key] = value
        return described


def _build(
    cls: type[SpannerSettings],
    values: Mapping[str, Any],
    key_format: str,
    environ: Mapping[str, str] | None,
    *,
    testing: bool,
) -> SpannerSettings:
    """The validation behind :meth:`SpannerSettings.from_mapping`; ``testing`` lowers every
    duration's minimum to "more than 0" (see :func:`_settings_for_tests`)."""
    env = os.environ if environ is None else environ
    if not isinstance(values, Mapping):
        raise ConfigurationError(
            f"Spanner settings: expected a mapping of upper-case keys "
            f"(e.g. {key_format.format(key='INSTANCE')}), got {show_value(values)}",
            value=_safe_value(values),
        )
    v = _Validator(values, key_format, testing=testing)
    v.reject_unknown()
    instance = v.identifier("INSTANCE", _INSTANCE_RE, "2-64 lowercase letters, digits or '-'")
    database = v.identifier("DATABASE", _DATABASE_RE, "2-30 lowercase letters, digits, '_' or '-'")
    emulator_host = v.optional_str("EMULATOR_HOST") or env.get("SPANNER_EMULATOR_HOST") or None
    if emulator_host is not None:
        v.check_host("EMULATOR_HOST", emulator_host)
    project = v.optional_str("PROJECT")
    if project is None and env.get("GOOGLE_CLOUD_PROJECT"):
        project = env["GOOGLE_CLOUD_PROJECT"]
        v.check_project(project, " (from the GOOGLE_CLOUD_PROJECT environment variable)")
    elif project is not None:
        v.check_project(project, "")
    if project is None and emulator_host is not None:
        raise ConfigurationError(
            f"{v.name('PROJECT')} is required with the emulator "
            "(set it, or the GOOGLE_CLOUD_PROJECT environment variable)",
            key=v.name("PROJECT"),
        )
    pool = v.choice("POOL", POOL_MODES, "pinging")
    ping_interval = v.number("PING_INTERVAL", 300.0)
    role = v.optional_str("DATABASE_ROLE")
    if role is not None and not _ROLE_RE.fullmatch(role):
        raise v.fail(
            "DATABASE_ROLE",
            "expected a role name of 1-128 letters, digits or '_', starting with a letter",
            role,
        )
    return cls(
        project=project,
        instance=instance,
        database=database,
        pool=pool,
        pool_size=v.integer("POOL_SIZE", 10, low=1, high=1000),
        pool_timeout=v.number("POOL_TIMEOUT", 5.0),
        ping_interval=ping_interval,
        emulator_host=emulator_host,
        database_role=role,
        labels=v.labels("LABELS"),
        credentials=v.credentials("CREDENTIALS"),
        max_session_age=v.max_session_age(ping_interval),
        leak_timeout=v.number("LEAK_TIMEOUT", None),
        rpc_timeout=v.number("RPC_TIMEOUT", 30.0),
    )


def _settings_for_tests(
    values: Mapping[str, Any],
    *,
    key_format: str = "{key}",
    environ: Mapping[str, str] | None = None,
) -> SpannerSettings:
    """TEST ONLY: ``from_mapping`` with every duration's minimum lowered to "more than 0", so
    that tests can run the pinger, rotation and deadlines in fractions of a second. Types,
    formats and maximums are checked as usual. Not part of the API; users get ``RANGES``."""
    return _build(SpannerSettings, values, key_format, environ, testing=True)
